import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const NODE_START = path.join(__dirname, '..', '..', 'redis', 'node-start.sh');

/** A stand-in for redis-server that reports its pid, its arguments and what it read on stdin. */
let dir: string;
let fakeServer: string;
let tlsDir: string;

const PASSWORDS = {
  REDIS_PASSWORD: 'correct horse $HOME',
  REDIS_APP_PASSWORD: 'app battery',
  REDIS_COMMANDER_PASSWORD: 'commander staple',
};
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'node-start-'));
  fakeServer = path.join(dir, 'redis-server');
  writeFileSync(fakeServer, '#!/bin/sh\necho "pid=$$"\necho "args=$*"\ncat\n');
  chmodSync(fakeServer, 0o755);
  tlsDir = path.join(dir, 'tls');
  mkdirSync(tlsDir);
  for (const file of ['ca.crt', 'redis.crt', 'redis.key']) writeFileSync(path.join(tlsDir, file), 'pem\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(env: Record<string, string>, args = ['--port', '7000', '--dir', dir]): Promise<{ pid: number | undefined; output: string }> {
  const child = spawn('sh', [NODE_START, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_SERVER: fakeServer,
      REDIS_CONF: '/etc/redis.conf',
      REDIS_PASSWORD_FILE: '/nonexistent',
      REDIS_APP_PASSWORD_FILE: '/nonexistent',
      REDIS_COMMANDER_PASSWORD_FILE: '/nonexistent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('close', () => resolve({ pid: child.pid, output })));
}

describe('redis/node-start.sh', () => {
  // In a container the start script is PID 1. Only if Redis takes its place
  // does `docker compose stop` reach Redis with SIGTERM; a shell left as PID 1
  // ignores it, and Redis is SIGKILLed after the grace period.
  it.each([
    ['without a password', (): Record<string, string> => ({})],
    ['with users on', () => PASSWORDS],
    ['with TLS', () => ({ REDIS_TLS: '1', REDIS_TLS_DIR: tlsDir })],
  ])('replaces itself with the server %s, so signals reach Redis', async (_name, env) => {
    const { pid, output } = await start(env());
    expect(output).toContain(`pid=${pid}`);
  });

  it('hands the admin password over on stdin for replication, never in the arguments', async () => {
    const { output } = await start(PASSWORDS);
    expect(output).toContain(`args=/etc/redis.conf --port 7000 --dir ${dir} -`);
    expect(output).toContain(`aclfile "${dir}/users.acl"\nmasteruser admin\nmasterauth "correct horse $HOME"\n`);
    expect(output).not.toMatch(/args=.*(horse|battery|staple)/);
  });

  it("writes the node's aclfile with each password as a SHA-256 hash, readable by its owner only", async () => {
    await start(PASSWORDS);
    const file = path.join(dir, 'users.acl');
    const acl = readFileSync(file, 'utf8');
    expect(acl).toMatch(new RegExp(`^user admin on .* #${sha256(PASSWORDS.REDIS_PASSWORD)}$`, 'm'));
    expect(acl).toMatch(new RegExp(`^user app on .* #${sha256(PASSWORDS.REDIS_APP_PASSWORD)}$`, 'm'));
    expect(acl).toMatch(new RegExp(`^user commander on .* #${sha256(PASSWORDS.REDIS_COMMANDER_PASSWORD)}$`, 'm'));
    expect(acl).toMatch(/^user default off /m);
    expect(acl).not.toMatch(/horse|battery|staple|^#/m);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['REDIS_APP_PASSWORD', { REDIS_PASSWORD: 'admin', REDIS_COMMANDER_PASSWORD: 'c' }],
    ['REDIS_COMMANDER_PASSWORD', { REDIS_PASSWORD: 'admin', REDIS_APP_PASSWORD: 'a' }],
  ])('refuses to turn users on without %s, naming it', async (variable, env) => {
    const { output } = await start(env);
    expect(output).toContain(variable);
    expect(output).not.toContain('pid=');
  });

  it('refuses a password that would break out of the quotes', async () => {
    const { output } = await start({ ...PASSWORDS, REDIS_PASSWORD: 'bad"quote' });
    expect(output).toContain('must not contain');
    expect(output).not.toContain('pid=');
  });

  it('refuses a password file saved with Windows line endings, which would hash to another password', async () => {
    const file = path.join(dir, 'crlf-password');
    writeFileSync(file, 'app battery\r\n');
    const { output } = await start({ ...PASSWORDS, REDIS_APP_PASSWORD: '', REDIS_APP_PASSWORD_FILE: file });
    expect(output).toContain('carriage return');
    expect(output).not.toContain('pid=');
  });

  it("listens on TLS only with REDIS_TLS=1, and a caller's port options come after, so they win", async () => {
    const { output } = await start({ REDIS_TLS: '1', REDIS_TLS_DIR: tlsDir }, ['--port', '0', '--tls-port', '7000']);
    const args = /^args=(.*)$/m.exec(output)?.[1] ?? '';
    expect(args).toContain(`--port 0 --tls-port 6379 --tls-cert-file ${tlsDir}/redis.crt --tls-key-file ${tlsDir}/redis.key`);
    expect(args).toContain('--tls-replication yes --tls-cluster yes');
    expect(args.endsWith('--port 0 --tls-port 7000')).toBe(true);
  });

  it('refuses REDIS_TLS=1 without the certificates, saying how to make them', async () => {
    const { output } = await start({ REDIS_TLS: '1', REDIS_TLS_DIR: path.join(dir, 'none') });
    expect(output).toContain('make-certs.sh');
    expect(output).not.toContain('pid=');
  });
});
