import type { Cluster } from 'ioredis';

/** The few commands the routes need; unit tests pass a fake, the server a Cluster. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  ping(): Promise<void>;
}

/** Redis could not answer in time: temporary, worth a retry (HTTP 503). */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** The key exists but holds a hash, list, ... rather than a string (HTTP 409). */
export class WrongTypeError extends Error {
  constructor(readonly key: string) {
    super(`"${key}" holds a value that is not a string`);
    this.name = 'WrongTypeError';
  }
}

export type StringCommands = Pick<Cluster, 'get' | 'set' | 'ping'>;

/**
 * Puts a deadline on every command: ioredis queues commands while it has no
 * connection, so without one a request would hang for as long as Redis is down.
 */
export function createRedisStore(client: StringCommands, options: { deadlineMs: number }): KeyValueStore {
  const run = async <T>(key: string | undefined, work: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RedisUnavailableError(`Redis did not answer within ${options.deadlineMs} ms`)),
        options.deadlineMs,
      );
    });
    try {
      return await Promise.race([work(), deadline]);
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      if (key !== undefined && error instanceof Error && error.message.startsWith('WRONGTYPE')) {
        throw new WrongTypeError(key);
      }
      throw new RedisUnavailableError(`Redis is unavailable: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    get: (key) => run(key, () => client.get(key)),
    set: async (key, value) => {
      await run(key, () => client.set(key, value));
    },
    ping: async () => {
      await run(undefined, () => client.ping());
    },
  };
}
