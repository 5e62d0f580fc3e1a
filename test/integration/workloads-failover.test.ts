import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { createApp } from '../../src/app';
import { createRedisServices, retryPlan } from '../../src/redis';
import { createWorkloads } from '../../src/workloads';
import { baseProduct } from '../../src/workloads/origin';
import { userKeys } from '../../src/workloads/carts';
import { connectCluster, connectNode, eventually } from '../support/cluster-client';
import { silentLogger, testConfig } from '../support/fakes';
import { HttpClient, type HttpAnswer } from '../support/http-client';
import { nodePid, runClusterScript, startFresh, testCluster } from '../support/native-cluster';

// A cluster of its own: each test kills one of its masters, the last stops it.
const cluster = testCluster(8500);
const WORKERS = 8;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'workloads-failover-origin-'));

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
  rmSync(dataDir, { recursive: true, force: true });
});

interface RunningApp {
  port: number;
  client: Cluster;
  warnings: string[];
  close(): Promise<void>;
}

/** The app with its workloads, in this process, on the test cluster; warnings are kept to count outages. */
async function startApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const client = await connectCluster(cluster);
  const config = testConfig({ ORIGIN_DATA_DIR: dataDir, ORIGIN_DELAY_MS: '50', RATE_LIMIT_WRITES: '1000000000', ...env });
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (msg: string) => warnings.push(msg) };
  const app = createApp({ ...createRedisServices(client, config.redis), logger, config, workloads: createWorkloads(client, config) });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    client,
    warnings,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.disconnect();
    },
  };
}

interface Master {
  port: number;
  id: string;
  /** Slot ranges as CLUSTER NODES prints them. */
  ranges: string[];
}

/** The first node, a master after cluster create, with its slots. */
async function firstMaster(): Promise<Master> {
  const probe = connectNode(cluster.basePort + 1);
  try {
    const line = String(await probe.cluster('NODES'))
      .split('\n')
      .find((entry) => entry.includes(`:${cluster.basePort}@`))!
      .split(' ');
    return { port: cluster.basePort, id: line[0]!, ranges: line.slice(8) };
  } finally {
    probe.disconnect();
  }
}

const inRanges = (slot: number, ranges: string[]) =>
  ranges.some((range) => {
    const [start, end = start] = range.split('-').map(Number);
    return slot >= start! && slot <= end!;
  });

/** SIGKILLs the master and waits until its replica serves its slots; resolves with how long that took. */
async function killAndWaitForPromotion(master: Master): Promise<number> {
  const probe = connectNode(master.port + 1);
  try {
    const killedAt = Date.now();
    process.kill(nodePid(cluster.dir, master.port), 'SIGKILL');
    return await eventually(
      async () => {
        const lines = String(await probe.cluster('NODES')).split('\n');
        const dead = lines.find((line) => line.startsWith(master.id));
        const promoted = lines.some(
          (line) => !line.startsWith(master.id) && line.split(' ')[2]?.includes('master') && line.split(' ').includes(master.ranges[0]!),
        );
        return dead?.includes('fail') && promoted ? Date.now() - killedAt : undefined;
      },
      20_000,
      'the replica to be promoted',
    );
  } finally {
    probe.disconnect();
  }
}

interface Tally {
  requests: number;
  statuses: Record<number, number>;
  networkErrors: number;
  slowestMs: number;
}

/** Sends one request, counting its status (or its lack of any) and its time. */
async function timed(tally: Tally, send: () => Promise<HttpAnswer>): Promise<HttpAnswer | undefined> {
  const started = performance.now();
  try {
    const answer = await send();
    tally.statuses[answer.status] = (tally.statuses[answer.status] ?? 0) + 1;
    return answer;
  } catch {
    tally.networkErrors += 1;
    return undefined;
  } finally {
    tally.requests += 1;
    tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
  }
}

const newTally = (): Tally => ({ requests: 0, statuses: {}, networkErrors: 0, slowestMs: 0 });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `worker` on WORKERS loops until stopped; kills the first master a second in and stops two seconds after the promotion. */
async function underFailover(worker: (index: number, running: () => boolean) => Promise<void>): Promise<number> {
  const master = await firstMaster();
  let running = true;
  const loops = Promise.all(Array.from({ length: WORKERS }, (_, index) => worker(index, () => running)));
  try {
    await pause(1000);
    const promotedMs = await killAndWaitForPromotion(master);
    await pause(2000);
    return promotedMs;
  } finally {
    running = false;
    await loops;
  }
}

describe('the workloads while a master is killed under load', () => {
  it('serves every cache read: from the cache, or from the origin while its master is gone', async () => {
    startFresh(cluster);
    const app = await startApp();
    const tally = newTally();
    const outcomes: Record<string, number> = {};
    let wrong = 0;
    try {
      const promotedMs = await underFailover(async (worker, running) => {
        const client = new HttpClient();
        for (let i = 0; running(); i += 1) {
          // Forty products read over and over, so most reads are hits; ids over 1000 do not exist, and "not found" is cached too.
          const id = ((worker * 7 + i * 3) % 40) + 981;
          const answer = await timed(tally, () => client.get(app.port, `/api/products/${id}`));
          if (!answer) continue;
          const { product, cache } = answer.body as { product?: { name: string }; cache: string };
          outcomes[cache] = (outcomes[cache] ?? 0) + 1;
          if (answer.status !== (id <= 1000 ? 200 : 404) || (id <= 1000 && product?.name !== baseProduct(id)?.name)) wrong += 1;
        }
      });

      console.info(
        `cache under failover (promoted after ${promotedMs} ms): ${tally.requests} reads, statuses ${JSON.stringify(tally.statuses)}, ` +
          `outcomes ${JSON.stringify(outcomes)}, network errors ${tally.networkErrors}, wrong answers ${wrong}, ` +
          `slowest ${Math.round(tally.slowestMs)} ms; warnings: ${app.warnings.join(' | ')}`,
      );
      expect(tally.networkErrors + (tally.statuses[500] ?? 0) + (tally.statuses[503] ?? 0)).toBe(0);
      expect(wrong).toBe(0);
      expect(tally.requests).toBeGreaterThan(200);
      expect(app.warnings).toEqual(['cache unavailable: serving from the origin until Redis answers again']);
      // A cached read never waits the failover out: it turns to the origin instead.
      expect(tally.slowestMs).toBeLessThan(Math.min(promotedMs, 2500));
    } finally {
      await app.close();
    }
  }, 90_000);

  it('keeps every session and every acknowledged cart write', async () => {
    startFresh(cluster);
    const app = await startApp();
    const tally = newTally();
    const added = new Map<string, number>();
    let lost = 0;
    try {
      const promotedMs = await underFailover(async (worker, running) => {
        const user = `worker-${worker}`;
        const browser = new HttpClient();
        await timed(tally, () => browser.post(app.port, '/api/session', { name: user }));
        for (let i = 1; running(); i += 1) {
          const read = await timed(tally, () => browser.get(app.port, '/api/session'));
          if (read?.status === 200 && (read.body as { user?: { id: string } }).user?.id !== user) lost += 1;
          const add = await timed(tally, () => browser.post(app.port, '/api/session/cart', { productId: (i % 20) + 1, quantity: 1 }));
          if (add?.status === 200) added.set(user, (added.get(user) ?? 0) + 1);
          if (i % 10 === 0) await timed(tally, () => browser.post(app.port, '/api/session/checkout'));
          if (i % 15 === 0) {
            // A new session now and then: destroy and create, not only read and touch.
            await timed(tally, () => browser.delete(app.port, '/api/session'));
            await timed(tally, () => browser.post(app.port, '/api/session', { name: user }));
          }
        }
        const final = await timed(tally, () => browser.get(app.port, '/api/session'));
        if ((final?.body as { user?: { id: string } } | undefined)?.user?.id !== user) lost += 1;
      });

      // Everything acknowledged is in the cart or in an order: nothing written was lost.
      const stored = await Promise.all(
        [...added.keys()].map(async (user) => {
          const { cart, orders } = userKeys(user);
          const [items, placed] = await Promise.all([app.client.hvals(cart), app.client.lrange(orders, 0, -1)]);
          const inOrders = placed.flatMap((order) => Object.values(JSON.parse(order) as Record<string, number>));
          return [...items.map(Number), ...inOrders].reduce((sum, n) => sum + n, 0);
        }),
      );
      console.info(
        `sessions under failover (promoted after ${promotedMs} ms): ${tally.requests} requests, statuses ${JSON.stringify(tally.statuses)}, ` +
          `network errors ${tally.networkErrors}, lost sessions ${lost}, cart adds acknowledged ${[...added.values()].join('+')} ` +
          `and stored ${stored.join('+')}, slowest ${Math.round(tally.slowestMs)} ms`,
      );
      expect(tally.networkErrors).toBe(0);
      expect(Object.keys(tally.statuses).sort()).toEqual(['200', '204']);
      expect(lost).toBe(0);
      expect(added.size).toBe(WORKERS);
      expect(stored).toEqual([...added.values()]);
    } finally {
      await app.close();
    }
  }, 90_000);

  it('refuses no write wrongly: each client gets its limit, whichever master holds its counter', async () => {
    startFresh(cluster);
    const LIMIT = 60;
    const app = await startApp({ RATE_LIMIT_WRITES: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: '600' });
    const master = await firstMaster();
    // Eight clients (loopback addresses), half of them counted on the master about to be killed.
    const addresses = Array.from({ length: 200 }, (_, i) => `127.0.0.${i + 10}`);
    const onMaster = (address: string) => inRanges(calculateSlot(`rl:${address}`), master.ranges);
    const clients = [...addresses.filter(onMaster).slice(0, WORKERS / 2), ...addresses.filter((a) => !onMaster(a)).slice(0, WORKERS / 2)];
    const tally = newTally();
    const sequences = clients.map(() => [] as number[]);
    try {
      const write = async (worker: number, n: number) => {
        const client = new HttpClient(clients[worker]);
        const answer = await timed(tally, () => client.put(app.port, `/api/keys/limited:${worker}:${n}`, { value: String(n) }));
        sequences[worker]!.push(answer?.status ?? 0);
      };
      // Half the limit before the kill, the rest and ten more while it happens: each client's writes one at a time.
      await Promise.all(
        clients.map(async (_, worker) => {
          for (let n = 0; n < LIMIT / 2; n += 1) await write(worker, n);
        }),
      );
      const afterKill = Promise.all(
        clients.map(async (_, worker) => {
          for (let n = LIMIT / 2; n < LIMIT + 10; n += 1) await write(worker, n);
        }),
      );
      const promotedMs = await killAndWaitForPromotion(master);
      await afterKill;

      const allowed = sequences.map((statuses) => statuses.filter((status) => status === 200).length);
      const counters = await Promise.all(clients.map((address) => app.client.get(`rl:${address}`)));
      console.info(
        `rate limit under failover (promoted after ${promotedMs} ms): limit ${LIMIT}, ${clients.length} clients ` +
          `(${clients.filter(onMaster).length} counted on the killed master); allowed ${allowed.join(', ')}; ` +
          `counters ${counters.join(', ')} after ${LIMIT + 10} writes each; statuses ${JSON.stringify(tally.statuses)}, slowest ${Math.round(tally.slowestMs)} ms`,
      );
      expect(tally.networkErrors).toBe(0);
      for (const statuses of sequences) {
        // Allowed until the limit, refused after it: never a 429 too early, never anything but 200 or 429.
        const firstRefusal = statuses.indexOf(429);
        expect(firstRefusal).toBeGreaterThanOrEqual(LIMIT);
        expect(statuses.slice(firstRefusal).every((status) => status === 429)).toBe(true);
        expect(statuses.slice(0, firstRefusal).every((status) => status === 200)).toBe(true);
        // Over the limit by at most the write in flight when the master died, had its count not been replicated.
        expect(firstRefusal).toBeLessThanOrEqual(LIMIT + 1);
      }
    } finally {
      await app.close();
    }
  }, 90_000);

  it('with the whole cluster stopped: reads from the origin, writes unlimited (fail open), sessions 503', async () => {
    const app = await startApp({ RATE_LIMIT_WRITES: '2' });
    try {
      const browser = new HttpClient();
      await browser.post(app.port, '/api/session', { name: 'before-the-outage' });
      runClusterScript(cluster, 'stop');

      const started = performance.now();
      const [reads, writes, session] = await Promise.all([
        Promise.all([1, 2, 3].map((id) => new HttpClient().get(app.port, `/api/products/${id}`))),
        Promise.all(Array.from({ length: 4 }, () => new HttpClient().post(app.port, '/api/limits/try'))),
        browser.get(app.port, '/api/session'),
      ]);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);

      console.info(
        `cluster stopped: reads ${reads.map((r) => `${r.status} ${(r.body as { cache: string }).cache}`).join(', ')}; ` +
          `writes over a limit of 2: ${writes.map((w) => w.status).join(', ')}; session ${session.status} ` +
          `(Retry-After ${String(session.headers['retry-after'])}); ${seconds} s; warnings: ${app.warnings.join(' | ')}`,
      );
      expect(reads.map((r) => [r.status, (r.body as { cache: string }).cache])).toEqual(Array(3).fill([200, 'bypass']));
      expect(writes.map((w) => w.status)).toEqual([200, 200, 200, 200]);
      expect(writes.every((w) => (w.body as { counting: boolean }).counting === false)).toBe(true);
      expect(session.status).toBe(503);
      expect(session.headers['retry-after']).toBe('2');
      expect(app.warnings.filter((w) => w.startsWith('cache unavailable'))).toHaveLength(1);
      expect(app.warnings.filter((w) => w.startsWith('rate-limit counters unavailable'))).toHaveLength(1);
      // Bounded by the deadline: nothing waits for a cluster that is not coming back.
      expect(Number(seconds) * 1000).toBeLessThan(retryPlan(2000).commandDeadlineMs + 3000);
    } finally {
      await app.close();
    }
  }, 60_000);
});
