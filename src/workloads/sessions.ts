import { RedisStore } from 'connect-redis';
import type { Store } from 'express-session';
import type { Cluster } from 'ioredis';
import type { RunCommand } from './command';

/**
 * Session records are `sess:<id>`, with no hash tag: each is read and written
 * alone, so they are best spread over every master, as their random ids do.
 */
export const SESSION_PREFIX = 'sess:';

export type SessionClient = Pick<Cluster, 'get' | 'set' | 'expire' | 'del'>;

/**
 * The few commands connect-redis sends, over the cluster client, each within
 * the app's deadline. connect-redis 8 is the last major that takes an ioredis
 * client. Given a Cluster directly it would work for the commands a request
 * uses (GET, SET EX, EXPIRE, DEL of one key, routed by key), but a command
 * would wait with no deadline while a master is unreachable, and its
 * listing calls (all, ids, length, clear) would SCAN one random node and
 * quietly miss the sessions on the others: here they refuse instead.
 */
export function sessionClient(client: SessionClient, run: RunCommand) {
  const forEachKey = <T>(keys: string[], work: (key: string) => Promise<T>) => Promise.all(keys.map(work));
  return {
    get: (key: string) => run(key, () => client.get(key)),
    set: (key: string, value: string, mode?: 'EX', seconds?: number) =>
      run(key, () => (mode === 'EX' && seconds !== undefined ? client.set(key, value, 'EX', seconds) : client.set(key, value))),
    expire: (key: string, seconds: number) => run(key, () => client.expire(key, seconds)),
    // One key per command: keys of different slots cannot share one in a cluster.
    del: async (keys: string[]) => (await forEachKey(keys, (key) => run(key, () => client.del(key)))).reduce((sum, n) => sum + n, 0),
    mget: (keys: string[]) => forEachKey(keys, (key) => run(key, () => client.get(key))),
    scan: () => Promise.reject(new Error('listing sessions would need a SCAN of every master; this app never lists them')),
  };
}

/** express-session's store: connect-redis on the cluster client. */
export function createRedisSessionStore(client: SessionClient, run: RunCommand): Store {
  return new RedisStore({ client: sessionClient(client, run), prefix: SESSION_PREFIX });
}
