import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Store } from 'express-rate-limit';
import type { Cluster } from 'ioredis';
import { RedisStore, type RedisReply, type SendCommandClusterDetails } from 'rate-limit-redis';
import { RedisUnavailableError } from '../store';
import type { RunCommand } from './command';
import type { OutageLog } from './outage';

/**
 * Counters are `rl:<client address>`, with no hash tag: each client's counter
 * is one key touched alone, so clients spread over every master.
 */
export const RATE_LIMIT_PREFIX = 'rl:';

/** express-rate-limit's store, with `get` for showing a client's count without adding to it. */
export type RateLimitStore = Store & Required<Pick<Store, 'get'>>;

export type RateLimitClient = Pick<Cluster, 'call'>;

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/**
 * rate-limit-redis's `sendCommandCluster` on an ioredis Cluster. Its commands
 * go through `call`, which routes EVALSHA by its key. Its scripts are loaded
 * with SCRIPT LOAD, which names no key: in a cluster that would reach one
 * random node, and a master promoted in a failover starts with an empty
 * script cache. So SCRIPT LOAD is answered here (the SHA1 Redis would give),
 * and an EVALSHA that meets NOSCRIPT is sent again as EVAL, on the key's own
 * master: the fallback ioredis uses for its own scripts.
 */
export function sendCommandByKey(client: RateLimitClient, run: RunCommand) {
  const scripts = new Map<string, string>();
  return async ({ key, command }: SendCommandClusterDetails): Promise<RedisReply> => {
    const [name = '', ...args] = command;
    if (name.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
      const sha = sha1(args[1]);
      scripts.set(sha, args[1]);
      return sha;
    }
    return run(key ?? name, async () => {
      try {
        return (await client.call(name, ...args)) as RedisReply;
      } catch (error) {
        const script = name.toUpperCase() === 'EVALSHA' ? scripts.get(args[0] ?? '') : undefined;
        if (!script || !(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
        return (await client.call('EVAL', script, ...args.slice(1))) as RedisReply;
      }
    });
  };
}

export function createRedisRateLimitStore(client: RateLimitClient, run: RunCommand): RateLimitStore {
  return new RedisStore({ prefix: RATE_LIMIT_PREFIX, sendCommandCluster: sendCommandByKey(client, run) });
}

/**
 * Fail open: while the counters cannot be reached, writes go through
 * unlimited (and the outage is logged once). A write bound for a healthy
 * master then still succeeds, and one bound for the lost master fails with
 * 503 on its own; refusing both would turn the loss of one master into a 429
 * for everyone. What it costs: a client is not limited during the outage.
 */
export function failOpen(limiter: RequestHandler, outage: OutageLog): RequestHandler {
  return (req, res, next) =>
    limiter(req, res, (error?: unknown) => {
      if (error instanceof RedisUnavailableError) {
        outage.failed(error);
        next();
        return;
      }
      if (error === undefined) outage.recovered();
      next(error);
    });
}
