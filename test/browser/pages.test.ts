import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp } from '../../src/app';
import { createRedisServices } from '../../src/redis';
import { connectCluster, connectNode, eventually, nodesForKey } from '../support/cluster-client';
import { silentLogger, testConfig } from '../support/fakes';
import {
  runClusterScript,
  runClusterScriptAsync,
  SHARED_CLUSTER,
  startFresh,
  testCluster,
  type NativeCluster,
} from '../support/native-cluster';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let client: Cluster;
let server: Server;
let browser: Browser;
let page: Page;
let base: string;

/** The app on a port of its own, talking to `cluster` through `redis`. */
async function startApp(cluster: NativeCluster, redis: Cluster): Promise<{ server: Server; base: string }> {
  const config = testConfig(cluster.env);
  const app = createApp({ ...createRedisServices(redis, config.redis), logger: silentLogger, config }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => app.once('listening', resolve));
  return { server: app, base: `http://127.0.0.1:${(app.address() as AddressInfo).port}` };
}

/** Stops listening, then ends open keep-alive connections, which close() alone would wait for. */
function stopApp(app: Server | undefined): Promise<void> {
  if (!app?.listening) return Promise.resolve();
  const closed = new Promise<void>((resolve) => app.close(() => resolve()));
  app.closeAllConnections();
  return closed;
}

/** "<master id> <start>-<end>" for every slot range, as Redis itself reports them with CLUSTER SHARDS, sorted. */
async function rangesFromRedis(redis: Cluster): Promise<string[]> {
  const shards = (await redis.cluster('SHARDS')) as unknown[][];
  return shards
    .flatMap((shard) => {
      const fields = new Map(Array.from({ length: shard.length / 2 }, (_, i) => [shard[2 * i] as string, shard[2 * i + 1]]));
      const slots = fields.get('slots') as number[];
      const nodes = (fields.get('nodes') as unknown[][]).map((node) => {
        const pairs = new Map(Array.from({ length: node.length / 2 }, (_, i) => [node[2 * i] as string, node[2 * i + 1]]));
        return { id: pairs.get('id') as string, role: pairs.get('role') as string };
      });
      const master = nodes.find(({ role }) => role === 'master');
      return Array.from({ length: slots.length / 2 }, (_, i) => `${master?.id} ${slots[2 * i]}-${slots[2 * i + 1]}`);
    })
    .sort();
}

interface MapRect {
  id: string;
  slots: string;
  fill: string;
  left: number;
  width: number;
}

/** The slot map as the browser drew it: each range's master, slots, colour and place on screen. */
const drawnMap = (page: Page): Promise<MapRect[]> =>
  page.evaluate<MapRect[]>(`[...document.querySelectorAll('svg[data-slot-map] rect[data-master-id]')].map((rect) => {
    const box = rect.getBoundingClientRect();
    return { id: rect.dataset.masterId, slots: rect.dataset.slots, fill: rect.getAttribute('fill'), left: box.left, width: box.width };
  })`);

/** The same ranges in rangesFromRedis' form; a single slot is written "n-n" there. */
const drawnRanges = (rects: MapRect[]): string[] =>
  rects.map(({ id, slots }) => `${id} ${slots.includes('-') ? slots : `${slots}-${slots}`}`).sort();

const noHorizontalScroll = (page: Page): Promise<boolean> =>
  page.evaluate<boolean>('document.documentElement.scrollWidth <= document.documentElement.clientWidth');

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  client = await connectCluster(SHARED_CLUSTER);
  ({ server, base } = await startApp(SHARED_CLUSTER, client));
  // Background networking off: this machine has no way out, and Chromium would keep trying.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stopApp(server);
  await client?.quit();
});

describe('the pages in a real browser', () => {
  it('saves through the form and shows the slot, master and replica that hold the key', async () => {
    const key = `{browser}:${Date.now()}`;
    await page.goto(base);
    await page.fill('#save-key', key);
    await page.fill('#save-value', '<b>typed by a person</b>');
    await page.fill('#save-ttl', '600');
    await page.click('form[action="/save-data"] button');

    const result = page.locator('[data-result="saved"]');
    await result.waitFor();
    expect(await result.textContent()).toContain('<b>typed by a person</b>');
    const { master, replicas } = await nodesForKey(client, key);
    expect(await page.getAttribute('[data-master]', 'data-master')).toBe(`127.0.0.1:${master}`);
    expect(await page.getAttribute('[data-replica]', 'data-replica')).toBe(`127.0.0.1:${replicas[0]}`);
    expect(await page.locator('.hint').textContent()).toContain('Only the hash tag browser');
  });

  it('finds the key again through the search form', async () => {
    const key = `browser:search:${Date.now()}`;
    await client.set(key, 'found me');
    await page.goto(base);
    await page.fill('#search-key', key);
    await page.click('form[action="/search"] button');
    await page.locator('[data-result="found"]').waitFor();
    expect(await page.locator('[data-result="found"]').textContent()).toContain('found me');
  });

  it('styles the page from its stylesheet, with nothing refused by the Content-Security-Policy', async () => {
    const complaints: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') complaints.push(message.text());
    });
    await page.goto(base);
    // A string: the tests compile without the DOM's types.
    expect(await page.evaluate<string>('getComputedStyle(document.body).maxWidth')).toBe('832px');
    expect(complaints).toEqual([]);
  });

  it('shows all six nodes on the cluster page, reached from the home page link', async () => {
    await page.goto(base);
    await page.click('nav a[href="/cluster"]');
    await page.locator('[data-cluster-state="ok"]').waitFor();
    expect(await page.locator('tr[data-node]').count()).toBe(6);
    expect(await page.locator('tr[data-role="master"]').count()).toBe(3);
  });

  it('groups each replica under its master, as CLUSTER NODES pairs them', async () => {
    await page.goto(`${base}/cluster`);
    const groups = await page.evaluate<{ master: string; rows: string[] }[]>(
      `[...document.querySelectorAll('tbody[data-shard-master-id]')].map((group) => ({
        master: group.dataset.shardMasterId,
        rows: [...group.querySelectorAll('tr[data-node]')].map((row) => row.dataset.role + ' ' + row.dataset.node),
      }))`,
    );
    const lines = ((await client.cluster('NODES')) as string)
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    const address = (id: string) => lines.find(([nodeId]) => nodeId === id)![1]!.split('@')[0];
    expect(groups).toHaveLength(3);
    for (const { master, rows } of groups) {
      const replicas = lines.filter(([, , flags, masterId]) => flags!.includes('slave') && masterId === master).map(([id]) => id!);
      expect(rows).toEqual([`master ${address(master)}`, ...replicas.map((id) => `replica ${address(id)}`)]);
    }
  });

  it('draws the slot map with the ranges CLUSTER SHARDS reports, one colour per master, as wide as their slots', async () => {
    await page.goto(`${base}/cluster`);
    const rects = await drawnMap(page);
    expect(drawnRanges(rects)).toEqual(await rangesFromRedis(client));

    const fills = new Map(rects.map(({ id, fill }) => [id, fill]));
    expect(new Set(fills.values()).size).toBe(fills.size);
    for (const { id, fill } of rects) expect(fill).toBe(fills.get(id));
    // The legend beside each shard's rows uses its colour on the map.
    for (const [id, fill] of fills) {
      expect(await page.getAttribute(`tbody[data-shard-master-id="${id}"] .swatch rect`, 'fill')).toBe(fill);
    }

    // Drawn, not just present: side by side across the bar, each as wide as its share of 16384.
    const bar = await page.locator('svg[data-slot-map] rect[data-unassigned]').boundingBox();
    const sorted = [...rects].sort((a, b) => a.left - b.left);
    for (const { slots, left, width } of sorted) {
      const [start, end = start] = slots.split('-').map(Number);
      expect(width).toBeCloseTo(((end! - start! + 1) / 16384) * bar!.width, 0);
      expect(left).toBeCloseTo(bar!.x + (start! / 16384) * bar!.width, 0);
    }
  });

  it('fits the cluster page into 1024 px without scrolling sideways', async () => {
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.goto(`${base}/cluster`);
    await page.locator('[data-cluster-state="ok"]').waitFor();
    expect(await noHorizontalScroll(page)).toBe(true);
  });

  it('keeps each address and id on one line at 1200 px', async () => {
    await page.setViewportSize({ width: 1200, height: 800 });
    await page.goto(`${base}/cluster`);
    // An inline element broken over several lines has one client rect per line.
    const lineCounts = await page.evaluate<number[]>(
      `[...document.querySelectorAll('tr[data-node] td:first-child code, tr[data-node] td:last-child code')].map((code) => code.getClientRects().length)`,
    );
    expect(lineCounts).toHaveLength(12);
    expect(lineCounts.every((count) => count === 1)).toBe(true);
    expect(await noHorizontalScroll(page)).toBe(true);
  });

  it('runs its live script under the Content-Security-Policy and keeps the page current', async () => {
    const complaints: string[] = [];
    const listen = (message: { type(): string; text(): string }) => {
      if (message.type() === 'error') complaints.push(message.text());
    };
    page.on('console', listen);
    try {
      await page.goto(`${base}/cluster`);
      await page.locator('[data-live-state="current"]').waitFor({ timeout: 5000 });
      expect(complaints).toEqual([]);
    } finally {
      page.off('console', listen);
    }
  });

  it("marks the key's slot on the slot map of its result, inside its master's range", async () => {
    const key = `browser:map:${Date.now()}`;
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.goto(base);
    await page.fill('#save-key', key);
    await page.fill('#save-value', 'on the map');
    await page.click('form[action="/save-data"] button');
    const mark = page.locator(`svg[data-slot-map] [data-key-slot="${calculateSlot(key)}"]`);
    await mark.waitFor();

    const owner = (await rangesFromRedis(client))
      .map((line) => line.split(/[ -]/))
      .find(([, start, end]) => calculateSlot(key) >= Number(start) && calculateSlot(key) <= Number(end))!;
    const rect = page.locator(`svg[data-slot-map] rect[data-master-id="${owner[0]}"][data-slots="${owner[1]}-${owner[2]}"]`);
    const [markBox, rectBox] = [await mark.locator('rect').boundingBox(), await rect.boundingBox()];
    expect(markBox!.x + markBox!.width / 2).toBeGreaterThanOrEqual(rectBox!.x);
    expect(markBox!.x + markBox!.width / 2).toBeLessThanOrEqual(rectBox!.x + rectBox!.width);
    expect(await noHorizontalScroll(page)).toBe(true);
  });
});

/**
 * Slots moved on a cluster of this file's own, never the shared one: a shard
 * joins and leaves through redis/native-cluster.sh add-shard and remove-shard.
 */
describe('the cluster page while slots move', () => {
  const own = testCluster(7950);
  let ownClient: Cluster;
  let ownServer: Server;
  let ownBase: string;
  const connections: Redis[] = [];

  beforeAll(async () => {
    startFresh(own);
    ownClient = await connectCluster(own);
    ({ server: ownServer, base: ownBase } = await startApp(own, ownClient));
  }, 60_000);

  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await stopApp(ownServer);
    await ownClient?.quit();
    runClusterScript(own, 'clean');
  }, 60_000);

  /** Node ids by port, read from the cluster itself. */
  const idsByPort = async (): Promise<Map<number, string>> =>
    new Map(
      ((await ownClient.cluster('NODES')) as string)
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .map(([id, address]) => [Number(/:(\d+)@/.exec(address!)?.[1]), id!]),
    );

  /** Waits until the open page, by itself, draws what CLUSTER SHARDS reports; returns what it drew. */
  const pageCatchesUp = (what: string): Promise<MapRect[]> =>
    eventually(
      async () => {
        const [rects, expected] = await Promise.all([drawnMap(page), rangesFromRedis(ownClient)]);
        return JSON.stringify(drawnRanges(rects)) === JSON.stringify(expected) ? rects : undefined;
      },
      10_000,
      what,
    );

  it('marks a slot while it is migrating, and clears the mark when the move ends, without a reload', async () => {
    const ids = await idsByPort();
    const [source, target] = [ids.get(own.basePort)!, ids.get(own.basePort + 1)!];
    const [sourceNode, targetNode] = [connectNode(own.basePort), connectNode(own.basePort + 1)];
    connections.push(sourceNode, targetNode);
    await page.goto(`${ownBase}/cluster`);
    await page.evaluate('window.notReloaded = true');

    // The first steps of a move, as redis-cli --cluster reshard takes them, and then its undoing.
    await targetNode.cluster('SETSLOT', 100, 'IMPORTING', source);
    await sourceNode.cluster('SETSLOT', 100, 'MIGRATING', target);
    try {
      const mark = page.locator(`svg[data-slot-map] g[data-moving-slots="100"][data-from="${source}"][data-to="${target}"]`);
      await mark.waitFor({ timeout: 5000 });
      expect(await page.locator('li[data-moving-slots="100"]').textContent()).toContain(`127.0.0.1:${own.basePort + 1}`);
    } finally {
      await sourceNode.cluster('SETSLOT', 100, 'STABLE');
      await targetNode.cluster('SETSLOT', 100, 'STABLE');
    }
    await page.locator('svg[data-slot-map] g[data-moving-slots]').waitFor({ state: 'detached', timeout: 5000 });
    expect(await page.evaluate<boolean>('window.notReloaded === true')).toBe(true);
  });

  it("redraws the map while a shard joins and leaves, keeping each master's colour, without a reload", async () => {
    await page.goto(`${ownBase}/cluster`);
    await page.evaluate('window.notReloaded = true');
    const before = await pageCatchesUp('the map of three shards');

    // What the page draws while the script runs, sampled faster than the page refreshes.
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        seen.add(JSON.stringify(drawnRanges(await drawnMap(page))));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      await runClusterScriptAsync(own, 'add-shard', 120_000);
    } finally {
      watching = false;
      await watch;
    }
    const grown = await pageCatchesUp('the map of four shards');

    const newMaster = (await idsByPort()).get(own.basePort + 6)!;
    const slotsOf = (rects: MapRect[], id: string) =>
      rects
        .filter((rect) => rect.id === id)
        .reduce((sum, { slots }) => {
          const [start, end = start] = slots.split('-').map(Number);
          return sum + end! - start! + 1;
        }, 0);
    expect(new Set(grown.map(({ id }) => id)).size).toBe(4);
    expect(slotsOf(grown, newMaster)).toBeGreaterThanOrEqual(4000);
    // Drawn while the slots moved, not only before and after.
    const [start, end] = [JSON.stringify(drawnRanges(before)), JSON.stringify(drawnRanges(grown))];
    expect([...seen].filter((map) => map !== start && map !== end).length).toBeGreaterThan(0);

    const colours = (rects: MapRect[]) => new Map(rects.map(({ id, fill }) => [id, fill]));
    for (const [id, fill] of colours(before)) expect(colours(grown).get(id)).toBe(fill);
    expect([...colours(before).values()]).not.toContain(colours(grown).get(newMaster));

    await runClusterScriptAsync(own, 'remove-shard', 120_000);
    const shrunk = await pageCatchesUp('the map of three shards again');
    expect(new Set(shrunk.map(({ id }) => id))).toEqual(new Set(before.map(({ id }) => id)));
    expect(colours(shrunk)).toEqual(colours(before));
    expect(await page.evaluate<boolean>('window.notReloaded === true')).toBe(true);
  }, 300_000);

  // Last here: it stops this file's own app.
  it('keeps the last map up, marked as stale, once the app stops answering', async () => {
    await page.goto(`${ownBase}/cluster`);
    await page.locator('[data-live-state="current"]').waitFor({ timeout: 5000 });
    await stopApp(ownServer);
    await page.locator('[data-live-state="stale"]').waitFor({ timeout: 5000 });
    expect(await page.locator('svg[data-slot-map] rect[data-master-id]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.evaluate<string>(`getComputedStyle(document.querySelector('.live'), '::before').content`)).toContain('not answering');
  });
});
