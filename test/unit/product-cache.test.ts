import { ProductCache, productKeys } from '../../src/workloads/cache';
import { OUTAGE_QUIET_MS, OutageLog } from '../../src/workloads/outage';
import { RedisUnavailableError } from '../../src/store';
import { silentLogger } from '../support/fakes';
import { FakeCacheStore, FakeOrigin } from '../support/workload-fakes';

function setup(store = new FakeCacheStore(), origin = new FakeOrigin(), now = Date.now) {
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger = { ...silentLogger, warn: (msg: string) => warnings.push(msg), info: (msg: string) => infos.push(msg) };
  const outage = new OutageLog(logger, 'serving from the origin', 'cache', now);
  const cache = new ProductCache(store, origin, outage, { ttlSeconds: 100, lockMs: 1000 });
  return { cache, store, origin, warnings, infos };
}

/** Holds the origin's reads until release() is called, so requests pile up on one cold key. */
function holdOrigin(origin: FakeOrigin): () => void {
  let release!: () => void;
  origin.gate = new Promise<void>((resolve) => (release = resolve));
  return release;
}

describe('ProductCache', () => {
  it('loads a cold product from the origin once, then answers from the cache', async () => {
    const { cache, origin } = setup();

    const first = await cache.read(7);
    const second = await cache.read(7);

    expect(first).toMatchObject({ outcome: 'miss', product: { id: 7 } });
    expect(second).toMatchObject({ outcome: 'hit', product: first.product });
    expect(origin.reads).toBe(1);
    expect(cache.stats().outcomes).toMatchObject({ hit: 1, miss: 1 });
  });

  it('caches "not found" too, for at most 30 s', async () => {
    const { cache, origin, store } = setup();

    await cache.read(5000);
    const again = await cache.read(5000);

    expect(again).toMatchObject({ outcome: 'hit', product: null });
    expect(origin.reads).toBe(1);
    expect(store.ttls[0]).toBeLessThanOrEqual(30_000 * 1.1);
  });

  it('spreads expiry times within ttl ± 10%', async () => {
    const { cache, store } = setup();

    for (let id = 1; id <= 50; id += 1) await cache.read(id);

    expect(Math.min(...store.ttls)).toBeGreaterThanOrEqual(90_000);
    expect(Math.max(...store.ttls)).toBeLessThanOrEqual(110_000);
    expect(new Set(store.ttls).size).toBeGreaterThan(10);
  });

  it('sends 100 concurrent reads of a cold key to the origin once', async () => {
    const { cache, origin } = setup();
    const release = holdOrigin(origin);

    const reads = Array.from({ length: 100 }, () => cache.read(3));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const results = await Promise.all(reads);

    expect(origin.reads).toBe(1);
    expect(results.filter((r) => r.outcome === 'miss')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'coalesced')).toHaveLength(99);
    expect(new Set(results.map((r) => r.product?.name)).size).toBe(1);
  });

  it('makes a second instance wait for the value the lock holder writes instead of calling the origin', async () => {
    const store = new FakeCacheStore();
    const origin = new FakeOrigin();
    const a = setup(store, origin).cache;
    const b = setup(store, origin).cache;
    const release = holdOrigin(origin);

    const onA = a.read(9);
    await new Promise((resolve) => setImmediate(resolve));
    const onB = b.read(9);
    setTimeout(release, 50);
    const [fromA, fromB] = await Promise.all([onA, onB]);

    expect(origin.reads).toBe(1);
    expect(fromA.outcome).toBe('miss');
    expect(fromB).toMatchObject({ outcome: 'coalesced', product: fromA.product });
  });

  it('takes the lock over when its holder gave it up without a value', async () => {
    const { cache, store, origin } = setup();
    const keys = productKeys(11);
    store.data.set(keys.lock, { value: 'someone-else' });
    setTimeout(() => store.data.delete(keys.lock), 50);

    const read = await cache.read(11);

    expect(read.outcome).toBe('miss');
    expect(origin.reads).toBe(1);
    expect(store.data.has(keys.lock)).toBe(false);
  });

  it('never releases a lock another load has taken since', async () => {
    const { cache, store, origin } = setup();
    const keys = productKeys(12);
    const release = holdOrigin(origin);

    const read = cache.read(12);
    await new Promise((resolve) => setImmediate(resolve));
    // The lock expired and another instance took it while this load was slow.
    store.data.set(keys.lock, { value: 'another-token' });
    release();
    await read;

    expect(store.data.get(keys.lock)?.value).toBe('another-token');
    expect(store.data.has(keys.value)).toBe(false);
  });

  it('drops the cached copy when a product is updated, so the next read sees the change', async () => {
    const { cache, origin } = setup();
    await cache.read(4);

    await cache.update(4, { name: 'Renamed' });
    const after = await cache.read(4);

    expect(after).toMatchObject({ outcome: 'miss', product: { name: 'Renamed', version: 1 } });
    expect(origin.reads).toBe(2);
  });

  it('keeps a load that began before an update from caching what it read', async () => {
    const { cache, store, origin } = setup();
    const release = holdOrigin(origin);

    const stale = cache.read(8);
    await new Promise((resolve) => setImmediate(resolve));
    await cache.update(8, { name: 'New' });
    release();
    await stale;

    expect(store.data.has(productKeys(8).value)).toBe(false);
  });

  it('serves from the origin while Redis is unavailable, and warns once per outage', async () => {
    let now = 0;
    const { cache, store, origin, warnings, infos } = setup(undefined, undefined, () => now);
    const down = new RedisUnavailableError('Redis did not answer within 500 ms');

    store.fail = down;
    const reads = [];
    for (let i = 0; i < 5; i += 1) reads.push(await cache.read(2));
    // One master of three lost: reads of the others succeed between the failures, in the same outage.
    store.fail = undefined;
    await cache.read(2);
    store.fail = down;
    await cache.read(2);
    const duringOutage = [...warnings];
    now += OUTAGE_QUIET_MS;
    store.fail = undefined;
    await cache.read(2);
    store.fail = down;
    await cache.read(2);

    expect(reads.every((r) => r.outcome === 'bypass' && r.product?.id === 2)).toBe(true);
    expect(duringOutage).toEqual(['cache unavailable: serving from the origin until Redis answers again']);
    expect(infos).toEqual(['cache available again']);
    expect(warnings).toHaveLength(2);
    expect(origin.reads).toBe(8);
  });

  it('still sends concurrent reads to the origin once per process while Redis is unavailable', async () => {
    const { cache, store, origin } = setup();
    store.fail = new RedisUnavailableError('down');
    const release = holdOrigin(origin);

    const reads = Array.from({ length: 20 }, () => cache.read(6));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const results = await Promise.all(reads);

    expect(origin.reads).toBe(1);
    expect(results.every((r) => r.outcome === 'bypass')).toBe(true);
  });

  it('reports an update whose cached copy could not be dropped', async () => {
    const { cache, store } = setup();
    store.fail = new RedisUnavailableError('down');

    await expect(cache.update(4, { name: 'x' })).rejects.toBeInstanceOf(RedisUnavailableError);
  });

  it('measures hits and misses apart', async () => {
    const { cache } = setup();
    await cache.read(1);
    await cache.read(1);
    await cache.read(1);

    const { latency } = cache.stats();

    expect(latency.hit.count).toBe(2);
    expect(latency.miss.count).toBe(1);
    expect(latency.hit.p99Ms).toBeGreaterThanOrEqual(0);
  });
});
