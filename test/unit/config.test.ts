import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_CLUSTER_NODE_TIMEOUT_MS, loadConfig } from '../../src/config';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to the native cluster on loopback and port 4000', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.redis.nodes).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7001 },
      { host: '127.0.0.1', port: 7002 },
    ]);
    expect(config.redis.clusterNodeTimeoutMs).toBe(DEFAULT_CLUSTER_NODE_TIMEOUT_MS);
    expect(config.redis.password).toBeUndefined();
  });

  it('reads a list of host:port startup nodes, IPv6 included', () => {
    const config = loadConfig({ REDIS_CLUSTER_URLS: 'redis-node-1:6379, 10.0.0.2:6380,[::1]:7000' });
    expect(config.redis.nodes).toEqual([
      { host: 'redis-node-1', port: 6379 },
      { host: '10.0.0.2', port: 6380 },
      { host: '::1', port: 7000 },
    ]);
  });

  it.each([
    [{ REDIS_CLUSTER_URLS: 'redis://a:1' }, 'REDIS_CLUSTER_URLS', 'not host:port'],
    [{ REDIS_CLUSTER_URLS: 'a:70000' }, 'REDIS_CLUSTER_URLS', 'not host:port'],
    [{ REDIS_CLUSTER_URLS: ',' }, 'REDIS_CLUSTER_URLS', 'lists no host:port'],
    [{ PORT: 'eighty' }, 'PORT', 'not a whole number'],
    [{ PORT: '70000' }, 'PORT', 'outside'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV', 'not one of'],
    [{ REDIS_NAT_MAP: '172.28.0.11:6379' }, 'REDIS_NAT_MAP', 'announced-host:port=reachable-host:port'],
    [{ REDIS_PASSWORD: 'a', REDIS_PASSWORD_FILE: '/x' }, 'REDIS_PASSWORD_FILE', 'not both'],
    [{ REDIS_PASSWORD_FILE: '/no/such/file' }, 'REDIS_PASSWORD_FILE', 'cannot read'],
    [{ SESSION_SECRET: 's'.repeat(32), SESSION_SECRET_FILE: '/x' }, 'SESSION_SECRET_FILE', 'not both'],
    [{ SESSION_SECRET_FILE: '/no/such/file' }, 'SESSION_SECRET_FILE', 'cannot read'],
  ])('names the variable that is wrong: %o', (env, variable, problem) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(problem);
  });

  it('maps announced node addresses to reachable ones', () => {
    const config = loadConfig({ REDIS_NAT_MAP: '172.28.0.11:6379=127.0.0.1:7001,172.28.0.12:6379=127.0.0.1:7002' });
    expect(config.redis.natMap).toEqual({
      '172.28.0.11:6379': { host: '127.0.0.1', port: 7001 },
      '172.28.0.12:6379': { host: '127.0.0.1', port: 7002 },
    });
  });

  it('reads the password from a file without its trailing newline', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'password');
    writeFileSync(file, 's3cret\n');
    expect(loadConfig({ REDIS_PASSWORD_FILE: file }).redis.password).toBe('s3cret');
  });

  it('takes an empty password file as no password', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'password');
    writeFileSync(file, '');
    expect(loadConfig({ REDIS_PASSWORD_FILE: file }).redis.password).toBeUndefined();
  });

  it('requires a session secret in production, and says how to make one', () => {
    const error = configError({ NODE_ENV: 'production' });
    expect(error.variable).toBe('SESSION_SECRET');
    expect(error.message).toContain('must be set in production');
    expect(error.message).toContain('openssl rand');
  });

  it('refuses a short session secret anywhere', () => {
    const error = configError({ SESSION_SECRET: 'short' });
    expect(error.variable).toBe('SESSION_SECRET');
    expect(error.message).toContain('at least 32');
  });

  it('reads the session secret from a file, as compose hands it over', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'session-secret');
    writeFileSync(file, `${'k'.repeat(43)}\n`);
    expect(loadConfig({ NODE_ENV: 'production', SESSION_SECRET_FILE: file }).session.secret).toBe('k'.repeat(43));
  });

  it('names the file when the secret in it is too short', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'session-secret');
    writeFileSync(file, 'short\n');
    const error = configError({ SESSION_SECRET_FILE: file });
    expect(error.variable).toBe('SESSION_SECRET_FILE');
    expect(error.message).toContain('at least 32');
  });

  it('leaves the session secret to the app outside production, which makes one per process', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).session.secret).toBeUndefined();
  });

  it('reads the workloads settings, with defaults', () => {
    const secret = 's'.repeat(32);
    expect(loadConfig({ SESSION_SECRET: secret, ORIGIN_DATA_DIR: '/srv/origin', RATE_LIMIT_WRITES: '10' })).toMatchObject({
      origin: { delayMs: 150, dataDir: '/srv/origin' },
      cache: { ttlSeconds: 300 },
      session: { secret, ttlSeconds: 1800 },
      rateLimit: { writes: 10, windowSeconds: 60 },
    });
  });

  it.each([
    [{ ORIGIN_DELAY_MS: 'slow' }, 'ORIGIN_DELAY_MS'],
    [{ CACHE_TTL_SECONDS: '0' }, 'CACHE_TTL_SECONDS'],
    [{ SESSION_TTL_SECONDS: '5' }, 'SESSION_TTL_SECONDS'],
    [{ RATE_LIMIT_WRITES: '0' }, 'RATE_LIMIT_WRITES'],
    [{ RATE_LIMIT_WINDOW_SECONDS: '-1' }, 'RATE_LIMIT_WINDOW_SECONDS'],
  ])('names the workload setting that is wrong: %o', (env, variable) => {
    expect(configError(env).variable).toBe(variable);
  });

  it('keeps tests quiet by default', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).logLevel).toBe('silent');
    expect(loadConfig({}).logLevel).toBe('info');
  });

  describe('users and TLS', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'config-ca-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const caFile = (text = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n') => {
      const file = path.join(dir, 'ca.crt');
      writeFileSync(file, text);
      return file;
    };

    it('takes the ACL user name with a password, and ignores it without one (users off)', () => {
      expect(loadConfig({ REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw' }).redis).toMatchObject({ username: 'app', password: 'pw' });
      expect(loadConfig({ REDIS_USERNAME: 'app' }).redis.username).toBeUndefined();
    });

    it('is plain text by default, and TLS with the CA and server name when REDIS_TLS=1', () => {
      expect(loadConfig({}).redis.tls).toBeUndefined();
      const file = caFile();
      const config = loadConfig({ REDIS_TLS: '1', REDIS_TLS_CA_FILE: file, REDIS_TLS_SERVERNAME: 'redis-node-1' });
      expect(config.redis.tls).toEqual({ ca: expect.stringContaining('BEGIN CERTIFICATE') as string, servername: 'redis-node-1' });
      // A public CA (a managed service's) needs no file: Node's own list trusts it.
      expect(loadConfig({ REDIS_TLS: '1' }).redis.tls).toEqual({ ca: undefined, servername: undefined });
    });

    it.each([
      [{ REDIS_TLS: 'yes' }, 'REDIS_TLS', 'not 1 or 0'],
      [{ REDIS_TLS: '1', REDIS_TLS_CA_FILE: '/nonexistent/ca.crt' }, 'REDIS_TLS_CA_FILE', 'cannot read'],
      [{ REDIS_TLS_CA_FILE: '/any/ca.crt' }, 'REDIS_TLS_CA_FILE', 'REDIS_TLS is not 1'],
      [{ REDIS_TLS_SERVERNAME: 'redis-node-1' }, 'REDIS_TLS_SERVERNAME', 'REDIS_TLS is not 1'],
      [{ REDIS_DNS_LOOKUP: 'none' }, 'REDIS_DNS_LOOKUP', 'system, passthrough'],
    ])('names the TLS setting that is wrong: %o', (env, variable, problem) => {
      const error = configError(env);
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(problem);
    });

    it('refuses a CA file that holds no certificate', () => {
      expect(configError({ REDIS_TLS: '1', REDIS_TLS_CA_FILE: caFile('not a certificate') }).message).toContain('no PEM certificate');
    });
  });
});
