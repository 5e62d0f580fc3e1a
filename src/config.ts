import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type DnsLookup = 'system' | 'passthrough';

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** How the app checks the nodes' certificates when REDIS_TLS=1. */
export interface RedisTlsConfig {
  /** PEM of the CA to trust instead of Node's built-in list; undefined for a public CA. */
  ca: string | undefined;
  /** The name every node's certificate is checked against, instead of the address connected to. */
  servername: string | undefined;
}

export interface RedisConfig {
  nodes: RedisNodeAddress[];
  /** The ACL user; only with a password (without one, Redis's default user). */
  username: string | undefined;
  password: string | undefined;
  tls: RedisTlsConfig | undefined;
  /**
   * 'passthrough' hands startup hostnames to the connection unresolved, so a
   * TLS certificate is checked against the name rather than the IP ioredis
   * would otherwise resolve it to (managed endpoints; ioredis issue #754).
   */
  dnsLookup: DnsLookup;
  /** Must equal cluster-node-timeout in redis/redis.conf; the retry budget is sized from it. */
  clusterNodeTimeoutMs: number;
  /** Announced address ("ip:port") -> address this process can reach. */
  natMap: Record<string, RedisNodeAddress> | undefined;
}

export interface Config {
  nodeEnv: NodeEnv;
  host: string;
  port: number;
  logLevel: LogLevel;
  redis: RedisConfig;
  limits: {
    maxKeyBytes: number;
    maxValueBytes: number;
  };
  /** The slow data source the cache stands in front of. */
  origin: {
    delayMs: number;
    /** Where updates are kept; every instance must see the same directory. */
    dataDir: string;
  };
  cache: {
    /** Before jitter. */
    ttlSeconds: number;
  };
  session: {
    /** Signs the session cookie; undefined only outside production (a per-process one is made). */
    secret: string | undefined;
    /** Idle time after which a session ends; every request starts it again. */
    ttlSeconds: number;
  };
  rateLimit: {
    /** Writes allowed per client per window, over all instances together. */
    writes: number;
    windowSeconds: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const NODE_ENVS: readonly NodeEnv[] = ['development', 'production', 'test'];
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const DNS_LOOKUPS: readonly DnsLookup[] = ['system', 'passthrough'];

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim() || fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `"${raw}" is not one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name]?.trim() ?? '';
  if (raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  throw new ConfigError(name, `"${raw}" is not 1 or 0`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `"${raw}" is not a whole number`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `${value} is outside ${min}..${max}`);
  }
  return value;
}

/** Parses "host:port" (IPv6 hosts in brackets: "[::1]:7000"). */
export function parseAddress(text: string, variable: string): RedisNodeAddress {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port >= 1 && port <= 65535)) {
    throw new ConfigError(variable, `"${text.trim()}" is not host:port`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

function addressList(env: Env, name: string, fallback: string): RedisNodeAddress[] {
  const raw = env[name]?.trim() || fallback;
  const items = raw.split(',').filter((item) => item.trim() !== '');
  if (items.length === 0) throw new ConfigError(name, 'lists no host:port');
  return items.map((item) => parseAddress(item, name));
}

/** "172.28.0.11:6379=127.0.0.1:7001,..." -> ioredis natMap. */
function natMap(env: Env, name: string): RedisConfig['natMap'] {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const map: Record<string, RedisNodeAddress> = {};
  for (const pair of raw.split(',')) {
    const [from, to, extra] = pair.split('=');
    if (!from || !to || extra !== undefined) {
      throw new ConfigError(name, `"${pair.trim()}" is not announced-host:port=reachable-host:port`);
    }
    const announced = parseAddress(from, name);
    map[`${announced.host}:${announced.port}`] = parseAddress(to, name);
  }
  return map;
}

function readTextFile(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${file}: ${(error as Error).message}`);
  }
}

/**
 * A secret from NAME, or from the file NAME_FILE names (how compose hands
 * over secrets); never both. A trailing newline in the file is not part of
 * it, and an empty value means none.
 */
function secret(env: Env, name: string): string | undefined {
  const fileVariable = `${name}_FILE`;
  const file = env[fileVariable]?.trim();
  if (file && env[name]) {
    throw new ConfigError(fileVariable, `set either ${name} or ${fileVariable}, not both`);
  }
  if (!file) return env[name] || undefined;
  return readTextFile(fileVariable, file).replace(/\r?\n$/, '') || undefined;
}

// An empty password file means no password: compose mounts one when REDIS_PASSWORD_FILE is unset.
const password = (env: Env): string | undefined => secret(env, 'REDIS_PASSWORD');

function tls(env: Env): RedisTlsConfig | undefined {
  const caFile = env.REDIS_TLS_CA_FILE?.trim();
  const servername = env.REDIS_TLS_SERVERNAME?.trim() || undefined;
  if (!flag(env, 'REDIS_TLS')) {
    if (caFile || servername) throw new ConfigError(caFile ? 'REDIS_TLS_CA_FILE' : 'REDIS_TLS_SERVERNAME', 'is set but REDIS_TLS is not 1');
    return undefined;
  }
  const ca = caFile ? readTextFile('REDIS_TLS_CA_FILE', caFile) : undefined;
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('REDIS_TLS_CA_FILE', `${caFile} holds no PEM certificate`);
  }
  return { ca, servername };
}

/** Shorter, and a brute force on the cookie signature becomes a question of time. */
export const MIN_SESSION_SECRET_LENGTH = 32;

function sessionSecret(env: Env, nodeEnv: NodeEnv): string | undefined {
  const value = secret(env, 'SESSION_SECRET')?.trim();
  const variable = env.SESSION_SECRET_FILE?.trim() ? 'SESSION_SECRET_FILE' : 'SESSION_SECRET';
  if (!value) {
    if (nodeEnv === 'production') {
      throw new ConfigError(
        'SESSION_SECRET',
        'must be set in production (or SESSION_SECRET_FILE): it signs the session cookie (try `openssl rand -base64 32`)',
      );
    }
    return undefined;
  }
  if (value.length < MIN_SESSION_SECRET_LENGTH) {
    throw new ConfigError(variable, `is ${value.length} characters; use at least ${MIN_SESSION_SECRET_LENGTH}`);
  }
  return value;
}

/** The native cluster started by `npm run cluster:start`. */
export const DEFAULT_CLUSTER_URLS = '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';
export const DEFAULT_CLUSTER_NODE_TIMEOUT_MS = 2000;

/** Reads and checks the whole environment once; throws ConfigError naming the bad variable. */
export function loadConfig(env: Env): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', NODE_ENVS, 'development');
  const redisPassword = password(env);
  return {
    nodeEnv,
    host: env.HOST?.trim() || '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'silent' : 'info'),
    redis: {
      nodes: addressList(env, 'REDIS_CLUSTER_URLS', DEFAULT_CLUSTER_URLS),
      // Compose sets the name always; the password (file) decides whether users are on.
      username: redisPassword ? env.REDIS_USERNAME?.trim() || undefined : undefined,
      password: redisPassword,
      tls: tls(env),
      dnsLookup: oneOf(env, 'REDIS_DNS_LOOKUP', DNS_LOOKUPS, 'system'),
      clusterNodeTimeoutMs: integer(env, 'REDIS_CLUSTER_NODE_TIMEOUT_MS', DEFAULT_CLUSTER_NODE_TIMEOUT_MS, 100, 60_000),
      natMap: natMap(env, 'REDIS_NAT_MAP'),
    },
    limits: {
      maxKeyBytes: integer(env, 'MAX_KEY_BYTES', 1024, 1, 65_536),
      maxValueBytes: integer(env, 'MAX_VALUE_BYTES', 100 * 1024, 1, 16 * 1024 * 1024),
    },
    origin: {
      delayMs: integer(env, 'ORIGIN_DELAY_MS', 150, 0, 60_000),
      dataDir: env.ORIGIN_DATA_DIR?.trim() || path.join(os.tmpdir(), 'redis-cluster-starter-origin'),
    },
    cache: {
      ttlSeconds: integer(env, 'CACHE_TTL_SECONDS', 300, 1, 30 * 24 * 3600),
    },
    session: {
      secret: sessionSecret(env, nodeEnv),
      ttlSeconds: integer(env, 'SESSION_TTL_SECONDS', 1800, 10, 30 * 24 * 3600),
    },
    rateLimit: {
      writes: integer(env, 'RATE_LIMIT_WRITES', 60, 1, 1_000_000_000),
      windowSeconds: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 24 * 3600),
    },
  };
}
