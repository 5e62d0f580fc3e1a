import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp } from '../../src/app';
import { createRedisServices } from '../../src/redis';
import { connectCluster, nodesForKey } from '../support/cluster-client';
import { silentLogger, testConfig } from '../support/fakes';
import { SHARED_CLUSTER } from '../support/native-cluster';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let client: Cluster;
let server: Server;
let browser: Browser;
let page: Page;
let base: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  client = await connectCluster(SHARED_CLUSTER);
  const config = testConfig(SHARED_CLUSTER.env);
  server = createApp({ ...createRedisServices(client, config.redis), logger: silentLogger, config }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
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
});
