import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const NODE_START = path.join(__dirname, '..', '..', 'redis', 'node-start.sh');

/** A stand-in for redis-server that reports its pid, its arguments and what it read on stdin. */
let dir: string;
let fakeServer: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'node-start-'));
  fakeServer = path.join(dir, 'redis-server');
  writeFileSync(fakeServer, '#!/bin/sh\necho "pid=$$"\necho "args=$*"\ncat\n');
  chmodSync(fakeServer, 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(env: Record<string, string>): Promise<{ pid: number | undefined; output: string }> {
  const child = spawn('sh', [NODE_START, '--port', '7000'], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_SERVER: fakeServer,
      REDIS_CONF: '/etc/redis.conf',
      REDIS_PASSWORD_FILE: '/nonexistent',
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
    ['without a password', {}],
    ['with a password', { REDIS_PASSWORD: 'correct horse' }],
  ])('replaces itself with the server %s, so signals reach Redis', async (_name, env) => {
    const { pid, output } = await start(env);
    expect(output).toContain(`pid=${pid}`);
  });

  it('hands the password over on stdin, never in the arguments', async () => {
    const { output } = await start({ REDIS_PASSWORD: 'correct horse $HOME' });
    expect(output).toContain('args=/etc/redis.conf --port 7000 -');
    expect(output).toContain('requirepass "correct horse $HOME"\nmasterauth "correct horse $HOME"\n');
    expect(output).not.toMatch(/args=.*correct horse/);
  });

  it('refuses a password that would break out of the quotes', async () => {
    const { output } = await start({ REDIS_PASSWORD: 'bad"quote' });
    expect(output).toContain('must not contain');
    expect(output).not.toContain('pid=');
  });
});
