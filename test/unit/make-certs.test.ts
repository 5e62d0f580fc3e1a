import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAKE_CERTS = path.join(__dirname, '..', '..', 'redis', 'make-certs.sh');

let dir: string;
const run = (env: Record<string, string> = {}) =>
  spawnSync('sh', [MAKE_CERTS], { env: { PATH: process.env.PATH ?? '', TLS_DIR: dir, ...env }, encoding: 'utf8', timeout: 20_000 });
const cert = (name: string) => new X509Certificate(readFileSync(path.join(dir, name)));

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'make-certs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('redis/make-certs.sh', () => {
  it('makes a CA and a node certificate it signed, naming every compose node by service name and fixed address', () => {
    expect(run().status).toBe(0);
    const node = cert('redis.crt');
    expect(node.verify(cert('ca.crt').publicKey)).toBe(true);
    for (let i = 1; i <= 8; i += 1) {
      expect(node.checkHost(`redis-node-${i}`)).toBe(`redis-node-${i}`);
      expect(node.checkIP(`172.28.0.${10 + i}`)).toBe(`172.28.0.${10 + i}`);
    }
    expect(node.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(node.checkHost('localhost')).toBe('localhost');
    expect(node.checkHost('redis-node-9')).toBeUndefined();
  });

  // The cluster bus checks a peer node's certificate as a client certificate.
  it('lets nodes use the certificate as clients too', () => {
    expect(cert('redis.crt').keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
  });

  it('keeps the keys for their owner only', () => {
    expect(statSync(path.join(dir, 'redis.key')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
  });

  it('keeps certificates that still fit, and makes a new one when a name is added', () => {
    const first = cert('redis.crt').serialNumber;
    expect(run().stdout).toContain('keeping');
    expect(cert('redis.crt').serialNumber).toBe(first);
    expect(run({ REDIS_SUBNET_PREFIX: '10.9.0' }).status).toBe(0);
    expect(cert('redis.crt').serialNumber).not.toBe(first);
    expect(cert('redis.crt').checkIP('10.9.0.11')).toBe('10.9.0.11');
  });
});
