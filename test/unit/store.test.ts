import type { MasterConnections, StoreClient } from '../../src/store';
import { BadCursorError, createRedisStore, RedisUnavailableError, WrongTypeError } from '../../src/store';

/** Every slot served by one node, as ioredis lists it once the cluster is formed. */
const everySlot = () => Array.from({ length: 16384 }, () => ['10.0.0.1:6379']);

function clientThat(behaviour: () => Promise<unknown>, onRefresh: () => void = () => {}): StoreClient {
  return {
    status: 'ready',
    slots: everySlot(),
    defineCommand: () => {},
    readWithTtl: behaviour,
    set: behaviour,
    del: behaviour,
    ping: behaviour,
    refreshSlotsCache: onRefresh,
  } as unknown as StoreClient;
}

/** A command that counts how often it is sent; `behaviour` gets the attempt's number, from 1. */
function counted(behaviour: (attempt: number) => Promise<unknown>) {
  const command = { attempts: 0, run: () => behaviour(++command.attempts) };
  return command;
}

const options = (deadlineMs: number) => ({ deadlineMs, redirectionDelayMs: 10 });

const noMasters: MasterConnections = async () => [];

/** Masters whose SCAN walks a fixed list of keys two at a time. */
function mastersWith(...keysPerMaster: string[][]): MasterConnections {
  return async () =>
    keysPerMaster.map((keys) => ({
      scan: (async (cursor: string) => {
        const start = Number(cursor);
        const next = start + 2 >= keys.length ? '0' : String(start + 2);
        return [next, keys.slice(start, start + 2)];
      }) as never,
    }));
}

describe('createRedisStore', () => {
  it('gives up after its deadline with a temporary error instead of hanging', async () => {
    const store = createRedisStore(
      clientThat(() => new Promise(() => {})),
      noMasters,
      options(50),
    );
    const started = Date.now();
    await expect(store.read('k')).rejects.toThrow(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a key of another type as WrongTypeError', async () => {
    const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    const store = createRedisStore(
      clientThat(() => Promise.reject(wrongType)),
      noMasters,
      options(1000),
    );
    await expect(store.read('h')).rejects.toThrow(WrongTypeError);
  });

  it('reports any other client failure as temporary unavailability', async () => {
    const store = createRedisStore(
      clientThat(() => Promise.reject(new Error('Connection is closed.'))),
      noMasters,
      options(1000),
    );
    await expect(store.set('k', 'v')).rejects.toThrow(/Redis is unavailable: Connection is closed/);
  });

  it.each([
    [['v', 30], { value: 'v', ttl: 30 }],
    [['v', -1], { value: 'v', ttl: undefined }],
    [null, null],
  ])('reads a value with its seconds left, or none when it never expires: %j', async (reply, expected) => {
    const store = createRedisStore(
      clientThat(async () => reply),
      noMasters,
      options(1000),
    );
    expect(await store.read('k')).toEqual(expected);
  });

  it('sends a command again after a redirection ioredis handed back, once the slot map is refreshed', async () => {
    let refreshes = 0;
    const command = counted(async (attempt) => {
      if (attempt <= 2) throw new Error('MOVED 4329 127.0.0.1:7001');
      return ['v', -1];
    });
    const store = createRedisStore(
      clientThat(command.run, () => (refreshes += 1)),
      noMasters,
      options(1000),
    );
    expect(await store.read('k')).toEqual({ value: 'v', ttl: undefined });
    expect({ attempts: command.attempts, refreshes }).toEqual({ attempts: 3, refreshes: 2 });
  });

  // While a slot moves: ASK for a key already on the new owner, TRYAGAIN for keys of one hash tag split between the two.
  it.each(['ASK 4329 127.0.0.1:7003', 'TRYAGAIN Multiple keys request during rehashing of slot'])(
    'sends a command again after a mid-move answer ioredis handed back, keeping its slot map: %s',
    async (answer) => {
      let refreshes = 0;
      const command = counted(async (attempt) => {
        if (attempt === 1) throw new Error(answer);
        return ['v', 30];
      });
      const store = createRedisStore(
        clientThat(command.run, () => (refreshes += 1)),
        noMasters,
        options(1000),
      );
      expect(await store.read('k')).toEqual({ value: 'v', ttl: 30 });
      expect({ attempts: command.attempts, refreshes }).toEqual({ attempts: 2, refreshes: 0 });
    },
  );

  it('stops sending a redirected command at the deadline, with a temporary error', async () => {
    const command = counted(async () => {
      throw new Error('MOVED 4329 127.0.0.1:7001');
    });
    const store = createRedisStore(clientThat(command.run), noMasters, options(100));
    await expect(store.set('k', 'v')).rejects.toThrow(RedisUnavailableError);
    const atDeadline = command.attempts;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(atDeadline).toBeGreaterThan(1);
    expect(command.attempts).toBe(atDeadline);
  });

  it('does not send again a command that failed for any other reason', async () => {
    const command = counted(async () => {
      throw new Error('Connection is closed.');
    });
    const store = createRedisStore(clientThat(command.run), noMasters, options(1000));
    await expect(store.del('k')).rejects.toThrow(RedisUnavailableError);
    expect(command.attempts).toBe(1);
  });

  it('scans every master in turn and ends with cursor 0', async () => {
    const store = createRedisStore(
      clientThat(async () => null),
      mastersWith(['a', 'b', 'c'], ['d']),
      options(1000),
    );
    const pages = [];
    let cursor = '0';
    do {
      const page = await store.scan({ match: '*', count: 2, cursor });
      pages.push(page);
      cursor = page.cursor;
    } while (cursor !== '0' && pages.length < 10);
    expect(pages.map((p) => p.cursor)).toEqual(['0:2', '1:0', '0']);
    expect(pages.flatMap((p) => p.keys)).toEqual(['a', 'b', 'c', 'd']);
  });

  it.each(['7:0', 'abc', '1:', '-1:0'])('refuses a cursor it did not hand out: %s', async (cursor) => {
    const store = createRedisStore(
      clientThat(async () => null),
      mastersWith(['a'], ['b']),
      options(1000),
    );
    await expect(store.scan({ match: '*', count: 2, cursor })).rejects.toThrow(BadCursorError);
  });
});

describe("the store's ping, which /healthz answers with", () => {
  const pong = async () => 'PONG';

  it('answers once the client is ready and every slot has a node', async () => {
    const store = createRedisStore(clientThat(pong), noMasters, options(1000));
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('fails at once, without sending PING, while the client is not ready', async () => {
    const ping = counted(pong);
    const client = { ...clientThat(ping.run), status: 'connect' } as StoreClient;
    const store = createRedisStore(client, noMasters, options(60_000));
    await expect(store.ping()).rejects.toThrow(new RedisUnavailableError('the cluster is not formed yet'));
    expect(ping.attempts).toBe(0);
  });

  it('fails while the slot map leaves a slot without a node, and has the map read again', async () => {
    const slots = everySlot();
    slots[16383] = [];
    const ping = counted(pong);
    let refreshes = 0;
    const store = createRedisStore({ ...clientThat(ping.run, () => (refreshes += 1)), slots }, noMasters, options(1000));
    await expect(store.ping()).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(ping.attempts).toBe(0);
    expect(refreshes).toBe(1);
  });

  it('fails when the formed cluster does not answer PING', async () => {
    const store = createRedisStore(
      clientThat(async () => Promise.reject(new Error('CLUSTERDOWN'))),
      noMasters,
      options(1000),
    );
    await expect(store.ping()).rejects.toBeInstanceOf(RedisUnavailableError);
  });
});
