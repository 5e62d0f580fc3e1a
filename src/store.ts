import type { Cluster, Result } from 'ioredis';

/**
 * Reads a string and its time to live in one command. Run inside Redis, the
 * two reads describe the same moment (a key cannot expire between them), and
 * the client sends and parses one command instead of two. The key is passed
 * in KEYS, so the cluster client routes the script to the key's master.
 */
const READ_WITH_TTL = {
  numberOfKeys: 1,
  lua: `local value = redis.call('GET', KEYS[1])
if value == false then return false end
return {value, redis.call('TTL', KEYS[1])}`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** [value, seconds left or -1], or null when the key does not exist. Defined by createRedisStore. */
    readWithTtl(key: string): Result<[string, number] | null, Context>;
  }
}

/** A string value, with the seconds it has left; ttl is undefined when it never expires. */
export interface StoredValue {
  value: string;
  ttl: number | undefined;
}

export interface ScanPage {
  keys: string[];
  /** "0" when every master has been scanned; otherwise pass it back to continue. */
  cursor: string;
}

/** The commands the routes need; unit tests pass a fake, the server a Cluster. */
export interface KeyValueStore {
  /** Null when the key does not exist. */
  read(key: string): Promise<StoredValue | null>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** True if the key existed. */
  del(key: string): Promise<boolean>;
  /** One SCAN step on one master at a time; the cursor says which. */
  scan(options: { match: string; count: number; cursor: string }): Promise<ScanPage>;
  /** Answers once the cluster is formed and reachable: every slot served, and PING answered. */
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

/** A scan cursor this server did not hand out (HTTP 400). */
export class BadCursorError extends Error {
  constructor(cursor: string) {
    super(`"${cursor}" is not a cursor from a previous page`);
    this.name = 'BadCursorError';
  }
}

/**
 * Runs a Redis call with a deadline and turns client failures into the two
 * errors routes understand. ioredis queues commands while it has no
 * connection, so without a deadline a request would hang while Redis is down.
 * `work` can ask whether the deadline has passed, so as not to start anything
 * new once the caller has been told it failed.
 */
export async function withDeadline<T>(deadlineMs: number, work: (expired: () => boolean) => Promise<T>, key?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new RedisUnavailableError(`Redis did not answer within ${deadlineMs} ms`));
    }, deadlineMs);
  });
  try {
    return await Promise.race([work(() => expired), deadline]);
  } catch (error) {
    if (error instanceof RedisUnavailableError || error instanceof BadCursorError) throw error;
    if (key !== undefined && error instanceof Error && error.message.startsWith('WRONGTYPE')) {
      throw new WrongTypeError(key);
    }
    throw new RedisUnavailableError(`Redis is unavailable: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

export type StoreClient = Pick<
  Cluster,
  'defineCommand' | 'readWithTtl' | 'set' | 'del' | 'ping' | 'refreshSlotsCache' | 'status' | 'slots'
>;

const HASH_SLOTS = 16384;

/**
 * Whether the client has seen the cluster formed. ioredis turns ready only
 * once a node reports cluster_state:ok (its ready check), and its slot map
 * then names a node for every slot. Until then, asking costs nothing: the
 * app may start before the cluster is formed (compose starts both at once),
 * and a command would wait in ioredis' offline queue until the deadline.
 */
function knowsTheFormedCluster(client: Pick<StoreClient, 'status' | 'slots'>): boolean {
  if (client.status !== 'ready') return false;
  for (let slot = 0; slot < HASH_SLOTS; slot++) if (!client.slots[slot]?.length) return false;
  return true;
}

/**
 * ioredis follows MOVED, ASK and TRYAGAIN by itself, except in an
 * auto-pipelined batch whose commands got different answers (two slots of
 * one master, one of which is moving, has just moved or lost its master):
 * then each command gets its bare error, or the batch fails to be sent again
 * at all (ioredis issues #2075 and #1734). While a slot moves to another
 * master, its old owner answers ASK for a key that has already gone, and
 * TRYAGAIN for a multi-key command whose keys (one hash tag) are split
 * between the two; once it has moved, MOVED. None of these ran the command,
 * so sending it again is safe, writes included.
 */
const UNFOLLOWED_REDIRECTION = /^(MOVED|ASK) \d+ |^TRYAGAIN\b|^All keys in the pipeline should belong to the same slots allocation group/;
/** Of those, the ones that mean the client's slot map is out of date; ASK and TRYAGAIN come mid-move, when it is not. */
const STALE_SLOT_MAP = /^MOVED |^All keys in the pipeline/;

export async function followRedirections<T>(
  work: () => Promise<T>,
  client: Pick<StoreClient, 'refreshSlotsCache'>,
  delayMs: number,
  expired: () => boolean,
): Promise<T> {
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof Error && UNFOLLOWED_REDIRECTION.test(error.message))) throw error;
      if (STALE_SLOT_MAP.test(error.message)) client.refreshSlotsCache();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      // Past the deadline the caller has its answer: a write sent now would land unannounced.
      if (expired()) throw error;
    }
  }
}

export interface StoreOptions {
  deadlineMs: number;
  /** The pause before sending again a command that ioredis handed back redirected (or TRYAGAIN, mid-move). */
  redirectionDelayMs: number;
}

/** The masters to scan, in a stable order, each with a connection that runs SCAN. */
export type MasterConnections = () => Promise<{ scan: Cluster['scan'] }[]>;

function parseCursor(cursor: string, masters: number): { index: number; position: string } {
  if (cursor === '0') return { index: 0, position: '0' };
  const match = /^(\d{1,3}):(\d{1,20})$/.exec(cursor);
  const index = Number(match?.[1]);
  if (!match?.[2] || index >= masters) throw new BadCursorError(cursor);
  return { index, position: match[2] };
}

export function createRedisStore(client: StoreClient, masters: MasterConnections, options: StoreOptions): KeyValueStore {
  const { deadlineMs, redirectionDelayMs } = options;
  client.defineCommand('readWithTtl', READ_WITH_TTL);
  /** One command on one key, within the deadline. */
  const command = <T>(key: string, work: () => Promise<T>): Promise<T> =>
    withDeadline(deadlineMs, (expired) => followRedirections(work, client, redirectionDelayMs, expired), key);
  return {
    read: async (key) => {
      const found = await command(key, () => client.readWithTtl(key));
      return found && { value: found[0], ttl: found[1] >= 0 ? found[1] : undefined };
    },
    set: async (key, value, ttlSeconds) => {
      await command(key, () => (ttlSeconds ? client.set(key, value, 'EX', ttlSeconds) : client.set(key, value)));
    },
    del: async (key) => (await command(key, () => client.del(key))) > 0,
    scan: ({ match, count, cursor }) =>
      withDeadline(deadlineMs, async () => {
        const nodes = await masters();
        if (nodes.length === 0) throw new RedisUnavailableError('no master is reachable to scan');
        const { index, position } = parseCursor(cursor, nodes.length);
        const [next, keys] = await nodes[index]!.scan(position, 'MATCH', match, 'COUNT', count);
        if (next !== '0') return { keys, cursor: `${index}:${next}` };
        return { keys, cursor: index + 1 < nodes.length ? `${index + 1}:0` : '0' };
      }),
    ping: async () => {
      if (!knowsTheFormedCluster(client)) {
        // ioredis reads the slot map again only when a command is redirected
        // or fails (it has no refresh timer by default), and this sends none:
        // a map read from a node that had not yet heard of every master, while
        // the cluster formed, would stay partial, and /healthz 503, for ever.
        if (client.status === 'ready') client.refreshSlotsCache();
        throw new RedisUnavailableError('the cluster is not formed yet');
      }
      await withDeadline(deadlineMs, () => client.ping());
    },
  };
}
