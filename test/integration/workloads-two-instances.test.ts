import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from 'ioredis';
import { connectCluster } from '../support/cluster-client';
import { startAppProcess, type AppProcess } from '../support/app-process';
import { TEST_SESSION_SECRET } from '../support/fakes';
import { HttpClient, sessionIdOf, type HttpAnswer } from '../support/http-client';
import { SHARED_CLUSTER } from '../support/native-cluster';

// Two app processes, A and B, as two servers behind a load balancer would be, on the shared cluster.
const ORIGIN_DELAY_MS = 150;
const WRITES_PER_WINDOW = 10;
const SESSION_TTL_SECONDS = 600;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'workloads-origin-'));
const env = {
  REDIS_CLUSTER_URLS: SHARED_CLUSTER.nodes
    .slice(0, 3)
    .map(({ host, port }) => `${host}:${port}`)
    .join(','),
  SESSION_SECRET: TEST_SESSION_SECRET,
  SESSION_TTL_SECONDS: String(SESSION_TTL_SECONDS),
  ORIGIN_DELAY_MS: String(ORIGIN_DELAY_MS),
  ORIGIN_DATA_DIR: dataDir,
  RATE_LIMIT_WRITES: String(WRITES_PER_WINDOW),
  RATE_LIMIT_WINDOW_SECONDS: '600',
};

let a: AppProcess;
let b: AppProcess;
let redis: Cluster;

beforeAll(async () => {
  [a, b, redis] = await Promise.all([startAppProcess(env), startAppProcess(env), connectCluster(SHARED_CLUSTER)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), redis?.quit()]);
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

// Every request here comes from 127.0.0.1: one client, whose write counter each test starts from zero.
beforeEach(async () => {
  await redis.del('rl:127.0.0.1');
});

interface CacheStats {
  originReads: number;
}
interface ProductAnswer {
  product: { id: number; name: string };
  cache: string;
}
interface SessionAnswer {
  signedIn: boolean;
  user?: { id: string };
  cart?: { items: { productId: number; quantity: number }[]; orders: number };
}

const body = <T>(answer: HttpAnswer) => answer.body as T;
const originReads = async (client: HttpClient) =>
  (await Promise.all([a, b].map(async (app) => body<CacheStats>(await client.get(app.port, '/api/cache')).originReads))).reduce(
    (sum, n) => sum + n,
  );

describe('the cache, shared by two instances', () => {
  it('sends 100 concurrent reads of a cold product, half to each instance, to the origin once', async () => {
    const client = new HttpClient();
    const before = await originReads(client);

    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => client.get((i % 2 ? a : b).port, '/api/products/101')));
    const calls = (await originReads(client)) - before;

    const outcomes = answers.map((answer) => body<ProductAnswer>(answer).cache);
    console.info(
      `stampede: 100 reads over 2 instances -> ${calls} origin call(s); ` +
        `outcomes ${JSON.stringify(outcomes.reduce<Record<string, number>>((n, o) => ({ ...n, [o]: (n[o] ?? 0) + 1 }), {}))}`,
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(200));
    expect(calls).toBe(1);
    expect(outcomes.filter((outcome) => outcome === 'miss')).toHaveLength(1);
    expect(new Set(answers.map((answer) => body<ProductAnswer>(answer).product.name)).size).toBe(1);
  });

  it('answers a hit on one instance for a product the other cached', async () => {
    const client = new HttpClient();

    const miss = await client.get(a.port, '/api/products/102');
    const hit = await client.get(b.port, '/api/products/102');

    expect(body<ProductAnswer>(miss).cache).toBe('miss');
    expect(body<ProductAnswer>(hit)).toEqual({ ...body<ProductAnswer>(miss), cache: 'hit', ms: expect.any(Number) as number });
  });

  it('shows an update made through one instance on the other', async () => {
    const client = new HttpClient();
    await client.get(b.port, '/api/products/103');

    const put = await client.put(a.port, '/api/products/103', { name: 'Renamed on A' });
    const read = await client.get(b.port, '/api/products/103');

    expect(put.status).toBe(200);
    expect(body<ProductAnswer>(read)).toMatchObject({ cache: 'miss', product: { name: 'Renamed on A' } });
  });

  it('shares "not found" too', async () => {
    const client = new HttpClient();
    const first = await client.get(a.port, '/api/products/4242');
    const second = await client.get(b.port, '/api/products/4242');
    expect([first.status, second.status]).toEqual([404, 404]);
    expect(second.body).toMatchObject({ cache: 'hit' });
  });
});

describe('sessions, shared by two instances', () => {
  it('reads on one instance the session made on the other, and ends it everywhere at sign-out', async () => {
    const browser = new HttpClient();

    const signIn = await browser.post(a.port, '/api/session', { name: 'Ada' });
    const onB = await browser.get(b.port, '/api/session');
    await browser.post(b.port, '/api/session/cart', { productId: 7, quantity: 2 });
    const cartOnA = await browser.get(a.port, '/api/session');
    const cookie = browser.cookie;
    const signOut = await browser.delete(b.port, '/api/session');
    browser.cookie = cookie; // a stale copy of the cookie, as another tab would still send
    const afterOnA = await browser.get(a.port, '/api/session');

    expect(signIn.status).toBe(200);
    expect(body<SessionAnswer>(onB)).toMatchObject({ signedIn: true, user: { id: 'ada' } });
    expect(body<SessionAnswer>(cartOnA).cart?.items).toEqual([{ productId: 7, quantity: 2 }]);
    expect(signOut.status).toBe(204);
    expect(body<SessionAnswer>(afterOnA)).toEqual({ signedIn: false });
    expect(await redis.exists(`sess:${sessionIdOf(cookie)}`)).toBe(0);
  });

  it('survives a restart of the instance that made it', async () => {
    const browser = new HttpClient();
    await browser.post(a.port, '/api/session', { name: 'Grace' });

    await a.stop();
    a = await startAppProcess(env);
    const after = await browser.get(a.port, '/api/session');

    expect(body<SessionAnswer>(after)).toMatchObject({ signedIn: true, user: { id: 'grace' } });
  }, 60_000);

  it('pushes the expiry back on every request, whichever instance answers', async () => {
    const browser = new HttpClient();
    await browser.post(a.port, '/api/session', { name: 'Linus' });
    const key = `sess:${sessionIdOf(browser.cookie)}`;
    await redis.expire(key, 30);

    await browser.get(b.port, '/api/session');

    expect(await redis.ttl(key)).toBeGreaterThan(SESSION_TTL_SECONDS - 5);
  });

  it('makes one order of a cart checked out on both instances at once', async () => {
    const browser = new HttpClient();
    await browser.post(a.port, '/api/session', { name: 'Barbara' });
    await browser.post(a.port, '/api/session/cart', { productId: 3, quantity: 1 });

    const answers = await Promise.all([a, b].map((app) => browser.post(app.port, '/api/session/checkout')));
    const after = await browser.get(b.port, '/api/session');

    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    expect(body<SessionAnswer>(after).cart).toMatchObject({ items: [], orders: 1 });
  });
});

describe('a rate limit shared by two instances', () => {
  it(`allows ${WRITES_PER_WINDOW} writes split over both, then refuses the next with 429 and the standard headers`, async () => {
    const client = new HttpClient();

    const allowed = [];
    for (let i = 0; i < WRITES_PER_WINDOW; i += 1) allowed.push(await client.post((i % 2 ? b : a).port, '/api/limits/try'));
    const refusedOnA = await client.post(a.port, '/api/limits/try');
    const refusedOnB = await client.post(b.port, '/api/limits/try');
    const readsStillServed = await client.get(b.port, '/api/products/1');

    console.info(
      `rate limit: ${allowed.filter((answer) => answer.status === 200).length} allowed over 2 instances, then ` +
        `${refusedOnA.status} on A and ${refusedOnB.status} on B; RateLimit: ${String(refusedOnB.headers['ratelimit'])}`,
    );
    expect(allowed.map((answer) => answer.status)).toEqual(Array(WRITES_PER_WINDOW).fill(200));
    // The remaining count goes down by one per write, whichever instance took it.
    expect(allowed.map((answer) => /r=(\d+)/.exec(String(answer.headers['ratelimit']))?.[1])).toEqual(
      Array.from({ length: WRITES_PER_WINDOW }, (_, i) => String(WRITES_PER_WINDOW - 1 - i)),
    );
    for (const refused of [refusedOnA, refusedOnB]) {
      expect(refused.status).toBe(429);
      expect(refused.headers['ratelimit']).toMatch(new RegExp(`^"${WRITES_PER_WINDOW}-in-10min"; r=0; t=\\d+$`));
      expect(refused.headers['ratelimit-policy']).toMatch(new RegExp(`^"${WRITES_PER_WINDOW}-in-10min"; q=${WRITES_PER_WINDOW}; w=600;`));
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(500);
    }
    expect(readsStillServed.status).toBe(200);
  });
});
