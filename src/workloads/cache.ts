import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Result } from 'ioredis';
import { RedisUnavailableError } from '../store';
import type { RunCommand } from './command';
import { LatencyWindow, type LatencySummary } from './latency';
import type { OutageLog } from './outage';
import type { Product, ProductChanges, ProductOrigin } from './origin';

/**
 * One hash tag per product, not one for every product: `cache:{product:42}`
 * and `lock:{product:42}` hash to one slot, so one script can check the lock
 * and write the value, and one DEL can drop both. Each product's tag differs,
 * so products still spread over every master as untagged keys would; a single
 * shared tag such as `{cache}` would pile every entry onto one master.
 */
export function productKeys(id: number): ProductKeys {
  return { value: `cache:{product:${id}}`, lock: `lock:{product:${id}}` };
}

export interface ProductKeys {
  value: string;
  lock: string;
}

/** What a look at a product's keys found: its cached text, a load in progress, or neither. */
export type Peek = { kind: 'value'; value: string } | { kind: 'busy' } | { kind: 'free' };

/** The Redis commands the cache needs; unit tests pass an in-memory fake. */
export interface CacheStore {
  get(key: string): Promise<string | null>;
  /** The value if someone has filled it; otherwise takes the lock with `token` if it is free ('locked'). */
  acquire(keys: ProductKeys, token: string, lockMs: number): Promise<Peek | { kind: 'locked' }>;
  peek(keys: ProductKeys): Promise<Peek>;
  /** Writes the value and releases the lock, only if `token` still holds it; false if it no longer does. */
  fill(keys: ProductKeys, token: string, value: string, ttlMs: number): Promise<boolean>;
  /** Compare-and-delete: releases the lock only if `token` still holds it, never someone else's. */
  release(keys: ProductKeys, token: string): Promise<void>;
  /** Drops the value and any lock, so a load that began before an update cannot write what it read. */
  invalidate(keys: ProductKeys): Promise<void>;
}

// Each script touches one product's two keys, which share a slot (see productKeys).
const ACQUIRE = `local value = redis.call('GET', KEYS[1])
if value then return {'value', value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'locked'} end
return {'busy'}`;

const PEEK = `local value = redis.call('GET', KEYS[1])
if value then return {'value', value} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'busy'} end
return {'free'}`;

const FILL = `if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined by createRedisCacheStore. */
    cacheAcquire(value: string, lock: string, token: string, lockMs: number): Result<[string, string?], Context>;
    cachePeek(value: string, lock: string): Result<[string, string?], Context>;
    cacheFill(value: string, lock: string, token: string, text: string, ttlMs: number): Result<number, Context>;
    cacheRelease(lock: string, token: string): Result<number, Context>;
  }
}

export type CacheClient = Pick<Cluster, 'defineCommand' | 'get' | 'del' | 'cacheAcquire' | 'cachePeek' | 'cacheFill' | 'cacheRelease'>;

const asPeek = ([kind, value]: [string, string?]): Peek => (kind === 'value' ? { kind, value: value! } : { kind: kind as 'busy' | 'free' });

/**
 * Reads run with `read`, a deadline shorter than the origin's delay: a cache
 * that is slower than the origin is worth nothing. Invalidation runs with
 * `write`, the app's full deadline, because it must land.
 */
export function createRedisCacheStore(client: CacheClient, { read, write }: { read: RunCommand; write: RunCommand }): CacheStore {
  client.defineCommand('cacheAcquire', { numberOfKeys: 2, lua: ACQUIRE });
  client.defineCommand('cachePeek', { numberOfKeys: 2, lua: PEEK });
  client.defineCommand('cacheFill', { numberOfKeys: 2, lua: FILL });
  client.defineCommand('cacheRelease', { numberOfKeys: 1, lua: RELEASE });
  return {
    get: (key) => read(key, () => client.get(key)),
    acquire: async ({ value, lock }, token, lockMs) => {
      const [kind, text] = await read(value, () => client.cacheAcquire(value, lock, token, lockMs));
      return kind === 'locked' ? { kind } : asPeek([kind, text]);
    },
    peek: async ({ value, lock }) => asPeek(await read(value, () => client.cachePeek(value, lock))),
    fill: async ({ value, lock }, token, text, ttlMs) => (await read(value, () => client.cacheFill(value, lock, token, text, ttlMs))) === 1,
    release: async ({ lock }, token) => {
      await read(lock, () => client.cacheRelease(lock, token));
    },
    invalidate: async ({ value, lock }) => {
      await write(value, () => client.del(value, lock));
    },
  };
}

/**
 * hit: Redis had it. miss: this request loaded it from the origin.
 * coalesced: another request loaded it, in this process or another one, and
 * this one waited for its answer. bypass: Redis did not answer in time, so
 * the origin served it and nothing was cached.
 */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced' | 'bypass';

export interface CachedRead {
  /** Null: the origin has no such product (an answer that is cached too). */
  product: Product | null;
  outcome: CacheOutcome;
  ms: number;
}

export interface CacheStats {
  /** Reads this process sent to the origin. */
  originReads: number;
  outcomes: Record<CacheOutcome, number>;
  latency: { hit: LatencySummary; miss: LatencySummary };
  redis: 'available' | 'unavailable';
}

export interface ProductCacheOptions {
  ttlSeconds: number;
  /** Longest a load may hold the lock; others wait that long at most, then go to the origin themselves. */
  lockMs: number;
  /** Stands in for Math.random in tests. */
  random?: () => number;
}

/** Each entry lives ttl ± 10%, so entries written together do not all expire together. */
const TTL_JITTER = 0.1;
/** "No such product" is cached briefly: long enough to absorb a burst, short enough that a new product shows soon. */
const NEGATIVE_TTL_SECONDS = 30;
/** How often a waiting request looks whether the load it waits for has finished. */
const POLL_MS = 20;

/** A product (or its absence) as cached: JSON text, with "null" for "not found". */
const encode = (product: Product | null): string => JSON.stringify(product);
const decode = (text: string): Product | null => JSON.parse(text) as Product | null;

/**
 * Cache-aside in front of the origin, shared by every instance through the
 * cluster. A cold key costs one origin call across all instances: requests in
 * one process join the load already running there, and one process at a time
 * holds the key's lock in Redis while the others wait for the value it writes.
 * Redis trouble never fails a read: it is served from the origin instead.
 */
export class ProductCache {
  private readonly loads = new Map<number, Promise<Omit<CachedRead, 'ms'>>>();
  private readonly outcomes: Record<CacheOutcome, number> = { hit: 0, miss: 0, coalesced: 0, bypass: 0 };
  private readonly hitLatency = new LatencyWindow();
  private readonly missLatency = new LatencyWindow();
  private readonly random: () => number;

  constructor(
    private readonly store: CacheStore,
    private readonly origin: ProductOrigin,
    private readonly outage: OutageLog,
    private readonly options: ProductCacheOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  async read(id: number): Promise<CachedRead> {
    const started = performance.now();
    let cached: string | null = null;
    let redisFailed = false;
    try {
      cached = await this.store.get(productKeys(id).value);
      this.outage.recovered();
    } catch (error) {
      this.unavailable(error);
      redisFailed = true;
    }
    const found = cached === null ? await this.loadOnce(id, redisFailed) : { product: decode(cached), outcome: 'hit' as const };
    const ms = performance.now() - started;
    this.outcomes[found.outcome] += 1;
    (found.outcome === 'hit' ? this.hitLatency : this.missLatency).record(ms);
    return { ...found, ms };
  }

  /** Writes the origin, then drops the cached copy; throws RedisUnavailableError if it could not be dropped. */
  async update(id: number, changes: ProductChanges): Promise<Product | null> {
    const product = await this.origin.update(id, changes);
    if (product) await this.store.invalidate(productKeys(id));
    return product;
  }

  stats(): CacheStats {
    return {
      originReads: this.origin.reads,
      outcomes: { ...this.outcomes },
      latency: { hit: this.hitLatency.summary(), miss: this.missLatency.summary() },
      redis: this.outage.unavailable ? 'unavailable' : 'available',
    };
  }

  /** Requests in this process for a product being loaded join that load instead of starting their own. */
  private loadOnce(id: number, redisFailed: boolean): Promise<Omit<CachedRead, 'ms'>> {
    const running = this.loads.get(id);
    if (running) return running.then(({ product, outcome }) => ({ product, outcome: outcome === 'bypass' ? outcome : 'coalesced' }));
    const load = (redisFailed ? this.fromOrigin(id) : this.load(id)).finally(() => this.loads.delete(id));
    this.loads.set(id, load);
    return load;
  }

  private async load(id: number): Promise<Omit<CachedRead, 'ms'>> {
    const keys = productKeys(id);
    const token = randomUUID();
    const giveUpAt = performance.now() + this.options.lockMs;
    try {
      for (;;) {
        const attempt = await this.store.acquire(keys, token, this.options.lockMs);
        if (attempt.kind === 'value') return { product: decode(attempt.value), outcome: 'coalesced' };
        if (attempt.kind === 'locked') return await this.fill(id, keys, token);
        const filled = await this.waitForFill(keys, giveUpAt);
        if (filled) return { product: filled.product, outcome: 'coalesced' };
        // The lock went without a value (its holder failed, or an update dropped it): try to take it, unless we waited long enough.
        if (performance.now() >= giveUpAt) return await this.fromOrigin(id);
      }
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      this.unavailable(error);
      return this.fromOrigin(id);
    }
  }

  /** Holding the lock: one origin call, then the value is written and the lock released in one script. */
  private async fill(id: number, keys: ProductKeys, token: string): Promise<Omit<CachedRead, 'ms'>> {
    let product: Product | null;
    try {
      product = await this.origin.get(id);
    } catch (error) {
      // If Redis does not answer either, the lock expires by itself after lockMs.
      await this.store.release(keys, token).catch(() => undefined);
      throw error;
    }
    try {
      await this.store.fill(keys, token, encode(product), this.ttlMs(product));
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      this.unavailable(error);
    }
    return { product, outcome: 'miss' };
  }

  /** Polls until the value appears (returned), the lock goes without one, or time runs out (undefined). */
  private async waitForFill(keys: ProductKeys, giveUpAt: number): Promise<{ product: Product | null } | undefined> {
    while (performance.now() < giveUpAt) {
      await sleep(POLL_MS);
      const seen = await this.store.peek(keys);
      if (seen.kind === 'value') return { product: decode(seen.value) };
      if (seen.kind === 'free') return undefined;
    }
    return undefined;
  }

  private async fromOrigin(id: number): Promise<Omit<CachedRead, 'ms'>> {
    return { product: await this.origin.get(id), outcome: 'bypass' };
  }

  private ttlMs(product: Product | null): number {
    const seconds = product ? this.options.ttlSeconds : Math.min(NEGATIVE_TTL_SECONDS, this.options.ttlSeconds);
    return Math.round(seconds * 1000 * (1 + TTL_JITTER * (2 * this.random() - 1)));
  }

  private unavailable(error: unknown): void {
    if (!(error instanceof RedisUnavailableError)) throw error;
    this.outage.failed(error);
  }
}
