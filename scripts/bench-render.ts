/**
 * npx tsx scripts/bench-render.ts — CPU time of one render of the key page
 * (POST /search's answer) through Express's app.render, with no socket and no
 * Redis: as the app renders it, as stock express-handlebars renders the same
 * views (what the app did before it kept what the engine finds), and the
 * original routes' page. The three take turns, round after round, so a slow
 * spell of a shared machine lands on all of them alike; each figure is the
 * median over the rounds.
 */
import type { Express } from 'express';
import { engine } from 'express-handlebars';
import { createApp } from '../src/app';
import { readKeyReport } from '../src/routes/report';
import { shardPalette, slotPicture } from '../src/slot-picture';
import { FakeClusterView, FakeStore, silentLogger, testConfig } from '../test/support/fakes';
import { createOriginalApp } from './bench-original/app';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const RENDERS = Number(process.env.BENCH_RENDERS ?? 2000);
const WARM_UP = 3000;
const KEY = 'bench:key';

interface Page {
  name: string;
  app: Express;
  view: string;
  model: object;
}

const render = ({ app, view, model }: Page) =>
  new Promise<string>((resolve, reject) => app.render(view, model, (error, html) => (error ? reject(error) : resolve(html))));

/** CPU µs per render over one batch. */
async function batch(page: Page): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < RENDERS; i += 1) await render(page);
  const { user, system } = process.cpuUsage(started);
  return (user + system) / RENDERS;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const store = new FakeStore();
  const view = new FakeClusterView();
  await store.set(KEY, 'v');
  const report = await readKeyReport(store, view, KEY);
  const shards = await view.shards();
  const picture = slotPicture(shards, { colours: shardPalette()(shards.map(({ master }) => master.id)), keySlot: report.slot });
  const model = { title: 'Redis Cluster Starter', result: { kind: 'found', report, picture }, search: { key: KEY } };

  const config = testConfig({ NODE_ENV: 'production' });
  const app = createApp({ store, view, logger: silentLogger, config });
  const stock = createApp({ store, view, logger: silentLogger, config });
  stock.engine('hbs', engine({ extname: '.hbs', defaultLayout: 'main', helpers: { eq: (a: unknown, b: unknown) => a === b } }));
  const original = createOriginalApp({ get: () => Promise.resolve('v'), set: () => Promise.resolve('OK') } as never);
  original.set('view cache', true);

  const pages: Page[] = [
    { name: 'original routes: their page', app: original, view: 'home/index', model: { layout: 'default', value: 'v' } },
    { name: 'app: key page, stock express-handlebars', app: stock, view: 'home', model },
    { name: 'app: key page, as the app renders it', app, view: 'home', model },
  ];
  const bytes = new Map<Page, number>();
  for (const page of pages) {
    for (let i = 0; i < WARM_UP; i += 1) await render(page);
    bytes.set(page, Buffer.byteLength(await render(page)));
  }
  const times = new Map<Page, number[]>(pages.map((page) => [page, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const page of pages) times.get(page)!.push(await batch(page));
  }

  console.log(`\nbench-render: ${ROUNDS} rounds of ${RENDERS} renders each, Node ${process.version}; medians over the rounds\n`);
  console.log('| page | CPU µs/render | bytes |');
  console.log('| --- | ---: | ---: |');
  for (const page of pages) console.log(`| ${page.name} | ${median(times.get(page)!).toFixed(1)} | ${bytes.get(page)} |`);
}

main().catch((error: unknown) => {
  console.error(`bench-render: ${(error as Error).stack}`);
  process.exit(1);
});
