import type { StringCommands } from '../../src/store';
import { createRedisStore, RedisUnavailableError, WrongTypeError } from '../../src/store';

function clientThat(behaviour: () => Promise<unknown>): StringCommands {
  return { get: behaviour, set: behaviour, ping: behaviour } as unknown as StringCommands;
}

describe('createRedisStore', () => {
  it('gives up after its deadline with a temporary error instead of hanging', async () => {
    const store = createRedisStore(clientThat(() => new Promise(() => {})), { deadlineMs: 50 });
    const started = Date.now();
    await expect(store.get('k')).rejects.toThrow(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a key of another type as WrongTypeError', async () => {
    const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    const store = createRedisStore(clientThat(() => Promise.reject(wrongType)), { deadlineMs: 1000 });
    await expect(store.get('h')).rejects.toThrow(WrongTypeError);
  });

  it('reports any other client failure as temporary unavailability', async () => {
    const store = createRedisStore(clientThat(() => Promise.reject(new Error('Connection is closed.'))), { deadlineMs: 1000 });
    await expect(store.set('k', 'v')).rejects.toThrow(/Redis is unavailable: Connection is closed/);
  });
});
