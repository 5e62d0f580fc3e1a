import type { Store as SessionStore } from 'express-session';
import type { Cluster } from 'ioredis';
import type { Config } from '../config';
import { retryPlan } from '../redis';
import { createRedisCacheStore, type CacheStore } from './cache';
import { createRedisCartStore, type CartStore } from './carts';
import { commandRunner } from './command';
import { createSlowOrigin, type ProductOrigin } from './origin';
import { createRedisRateLimitStore, type RateLimitStore } from './rate-limit';
import { createRedisSessionStore } from './sessions';

export type WorkloadConfig = Pick<Config, 'origin' | 'cache' | 'session' | 'rateLimit'>;

/**
 * What the cache, session and rate-limit demos need: the server passes stores
 * on the cluster client, unit tests pass in-memory ones and a fast origin.
 */
export interface WorkloadDependencies {
  origin: ProductOrigin;
  cacheStore: CacheStore;
  sessionStore: SessionStore;
  carts: CartStore;
  /** One per app: express-rate-limit warns when two limiters share a store. */
  rateLimitStore: RateLimitStore;
  config: WorkloadConfig;
}

/**
 * A cache read that takes longer than this goes to the origin instead. Far
 * above a healthy cluster's reply time even on a busy machine, yet short
 * enough that a lost master costs a cached read little more than the origin.
 */
export const CACHE_DEADLINE_MS = 500;

export function createWorkloads(cluster: Cluster, config: WorkloadConfig & Pick<Config, 'redis'>): WorkloadDependencies {
  const plan = retryPlan(config.redis.clusterNodeTimeoutMs);
  // Sessions, carts and counters wait out a failover; cache reads do not (see CACHE_DEADLINE_MS).
  const full = commandRunner(cluster, { deadlineMs: plan.commandDeadlineMs, redirectionDelayMs: plan.movedDelayMs });
  const quick = commandRunner(cluster, { deadlineMs: CACHE_DEADLINE_MS, redirectionDelayMs: plan.movedDelayMs });
  return {
    origin: createSlowOrigin(config.origin),
    cacheStore: createRedisCacheStore(cluster, { read: quick, write: full }),
    sessionStore: createRedisSessionStore(cluster, full),
    carts: createRedisCartStore(cluster, full),
    rateLimitStore: createRedisRateLimitStore(cluster, full),
    config: { origin: config.origin, cache: config.cache, session: config.session, rateLimit: config.rateLimit },
  };
}
