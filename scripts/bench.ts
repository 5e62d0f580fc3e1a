/**
 * npm run bench — requests/s, latency and server CPU per request of the app's
 * routes beside baselines measured in the same run, on a native cluster of its
 * own: a bare Express route (no Redis), the same route sending as many bytes
 * as the app's HTML page, a minimal Express + ioredis route, and the original
 * routes this template grew from. Each app route is reported as a ratio to the
 * original's same route, and the app's peak memory as a ratio to the original's.
 *
 * The servers run compiled, under plain node, as `node dist/server.js` runs
 * the app: no tsx in their CPU or memory figures.
 *
 * Each server runs in its own process and autocannon drives it from this one.
 * Every server stays up for the whole run and the routes take turns, round
 * after round, so a slow spell of this shared machine lands on every route
 * alike; each figure is the median over the rounds.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Cluster } from 'ioredis';
import { nativeCluster, runClusterScript, startFresh } from './lib/native-cluster';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Per route and round. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const cluster = nativeCluster(7700);
/** The cache-aside origin's delay: what a miss costs at least. */
const ORIGIN_DELAY_MS = 150;
const originDir = mkdtempSync(path.join(os.tmpdir(), 'bench-origin-'));
const redisEnv = {
  REDIS_CLUSTER_URLS: cluster.nodes
    .slice(0, 3)
    .map((n) => `${n.host}:${n.port}`)
    .join(','),
  ORIGIN_DELAY_MS: String(ORIGIN_DELAY_MS),
  ORIGIN_DATA_DIR: originDir,
};
const KEY = 'bench:key';
const MISSES = 30;
const ROOT = path.join(__dirname, '..');
/** Goals of issue 12: every app route at least as fast as the original's, peak memory at most 1.2 times. */
const SPEED_GOAL = 1.0;
const RSS_GOAL = 1.2;

type ServerKind = 'bare' | 'minimal' | 'original' | 'app';

interface Route {
  name: string;
  server: ServerKind;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: string;
  type?: string;
  /** Send as many bytes as the responses of the route of this name: the path then ends with the count. */
  bytesOf?: string;
  /** The name of the original route that does the same job: the app's yardstick. */
  original?: string;
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

const ROUTES: Route[] = [
  { name: 'baseline: bare Express', server: 'bare', method: 'GET', path: '/bare' },
  {
    name: 'baseline: bare Express, as many bytes as the HTML search page',
    server: 'bare',
    method: 'GET',
    path: '/bytes/',
    bytesOf: 'app: search, HTML (POST /search)',
  },
  { name: 'baseline: Express + ioredis GET', server: 'minimal', method: 'GET', path: `/get/${KEY}` },
  {
    name: 'baseline: Express + ioredis SET',
    server: 'minimal',
    method: 'PUT',
    path: `/set/${KEY}`,
    body: '{"value":"v"}',
    type: JSON_TYPE,
  },
  { name: 'original: search, JSON', server: 'original', method: 'GET', path: `/api/keys/${KEY}` },
  {
    name: 'app: search, JSON (GET /api/keys/:key)',
    server: 'app',
    method: 'GET',
    path: `/api/keys/${KEY}`,
    original: 'original: search, JSON',
  },
  // The warm-up round loads product 1 into the cache; every measured request is a hit.
  { name: 'app: cache-aside hit, JSON (GET /api/products/:id)', server: 'app', method: 'GET', path: '/api/products/1' },
  { name: 'original: search, HTML', server: 'original', method: 'POST', path: '/search', body: `key=${KEY}`, type: FORM },
  {
    name: 'app: search, HTML (POST /search)',
    server: 'app',
    method: 'POST',
    path: '/search',
    body: `key=${KEY}`,
    type: FORM,
    original: 'original: search, HTML',
  },
  { name: 'original: save, JSON', server: 'original', method: 'PUT', path: `/api/keys/${KEY}`, body: '{"value":"v"}', type: JSON_TYPE },
  {
    name: 'app: save, JSON (PUT /api/keys/:key)',
    server: 'app',
    method: 'PUT',
    path: `/api/keys/${KEY}`,
    body: '{"value":"v"}',
    type: JSON_TYPE,
    original: 'original: save, JSON',
  },
  { name: 'original: save, HTML', server: 'original', method: 'POST', path: '/save-data', body: `key=${KEY}&value=v`, type: FORM },
  {
    name: 'app: save, HTML (POST /save-data)',
    server: 'app',
    method: 'POST',
    path: '/save-data',
    body: `key=${KEY}&value=v`,
    type: FORM,
    original: 'original: save, HTML',
  },
];

/**
 * Compiles the servers with tsc into a directory of their own under dist/
 * (where node finds node_modules), linked to the views and static files they
 * read, and returns the compiled bench server.
 */
function compileServers(): { outDir: string; serverJs: string } {
  mkdirSync(path.join(ROOT, 'dist'), { recursive: true });
  const outDir = mkdtempSync(path.join(ROOT, 'dist', 'bench-'));
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(__dirname, 'tsconfig.bench.json'), '--outDir', outDir], { stdio: 'inherit' });
    for (const dir of ['views', 'public', 'scripts/bench-original/views']) symlinkSync(path.join(ROOT, dir), path.join(outDir, dir));
  } catch (error) {
    rmSync(outDir, { recursive: true, force: true });
    throw error;
  }
  return { outDir, serverJs: path.join(outDir, 'scripts', 'bench-server.js') };
}

/** Extra node flags for the servers, to profile them under the bench's load: BENCH_NODE_FLAGS='--cpu-prof'. */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

interface Server {
  child: ChildProcess;
  port: number;
  /** Resident memory once listening, before any request. */
  idleRss: number | undefined;
}

async function startServer(serverJs: string, kind: ServerKind): Promise<Server> {
  // As deployed: Express then caches views, in the original as in the app.
  const child = spawn(process.execPath, [...NODE_FLAGS, serverJs, kind], {
    env: { ...process.env, ...redisEnv, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port, idleRss: memoryMb(child.pid, 'VmRSS') };
}

/** VmRSS is resident memory now, VmHWM its high-water mark over the process's life. */
function memoryMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used (user + system), from /proc; Linux counts them in 1/100 s. */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Rounds take turns route by route, so each round's pair ran seconds apart on the same machine. */
/** Ratios are judged as printed, to two decimals, so a "1.00x" never reads "NOT met". */
const asPrinted = (ratio: number): number => Number(ratio.toFixed(2));

const speedRatio = (row: { rounds: { rps: number }[] }, original: { rounds: { rps: number }[] }): number =>
  median(row.rounds.map((round, i) => round.rps / original.rounds[i]!.rps));

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function measure(port: number, route: Route, seconds: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${route.path}`,
    method: route.method,
    body: route.body,
    headers: route.type ? { 'content-type': route.type } : {},
    connections: CONNECTIONS,
    duration: seconds,
  });
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    bytesPerResponse: result.throughput.total / Math.max(1, result.requests.total),
    bytes: result.throughput.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

interface Row {
  route: Route;
  rounds: Awaited<ReturnType<typeof measure>>[];
  cpuSeconds: number;
}

/**
 * Miss latency, one request at a time: each product is updated first (which
 * drops its cached copy), so the read that follows goes to the origin.
 */
async function missLatencies(port: number): Promise<number[]> {
  const base = `http://127.0.0.1:${port}/api/products`;
  const latencies: number[] = [];
  for (let id = 500; id < 500 + MISSES; id += 1) {
    const put = await fetch(`${base}/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"name":"bench"}' });
    const started = performance.now();
    const read = await fetch(`${base}/${id}`);
    const { cache } = (await read.json()) as { cache: string };
    latencies.push(performance.now() - started);
    if (!put.ok || cache !== 'miss') throw new Error(`product ${id}: update ${put.status}, then a read that was a ${cache}, not a miss`);
  }
  return latencies;
}

async function main(): Promise<void> {
  // The machine may be shared: the load around the run says how far to trust its absolute figures.
  const loadBefore = os.loadavg()[0]!;
  const started = startFresh(cluster);
  const startupMs = /in (\d+) ms/.exec(started)?.[1];
  const seed = new Cluster(cluster.nodes.slice(0, 1));
  await seed.set(KEY, 'v');
  await seed.quit();

  const servers = new Map<ServerKind, Server>();
  const peakRss = new Map<ServerKind, number | undefined>();
  const rows: Row[] = ROUTES.map((route) => ({ route, rounds: [], cpuSeconds: 0 }));
  const bare = ROUTES[0]!;
  const build = compileServers();
  let misses: number[];
  try {
    for (const kind of ['bare', 'minimal', 'original', 'app'] as const) servers.set(kind, await startServer(build.serverJs, kind));
    const run = async (row: Row, seconds: number) => {
      const { child, port } = servers.get(row.route.server)!;
      const before = cpuSeconds(child.pid);
      const result = await measure(port, row.route, seconds);
      row.cpuSeconds += cpuSeconds(child.pid) - before;
      return result;
    };
    const bytesPerResponse = async (route: Route) => (await measure(servers.get(route.server)!.port, route, 1)).bytesPerResponse;
    for (const row of rows) {
      if (row.route.bytesOf) {
        // Whole responses as long as the other route's, headers included.
        const target = await bytesPerResponse(ROUTES.find((route) => route.name === row.route.bytesOf)!);
        const bareHeaders = (await bytesPerResponse(bare)) - 'ok'.length;
        row.route = { ...row.route, path: `${row.route.path}${Math.round(target - bareHeaders)}` };
      }
      await measure(servers.get(row.route.server)!.port, row.route, 1); // warm-up: JIT, connections, slot cache
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const row of rows) row.rounds.push(await run(row, SECONDS));
    }
    for (const [kind, { child }] of servers) peakRss.set(kind, memoryMb(child.pid, 'VmHWM'));
    misses = await missLatencies(servers.get('app')!.port);
  } finally {
    for (const { child } of servers.values()) child.kill('SIGTERM');
    runClusterScript(cluster, 'clean');
    rmSync(build.outDir, { recursive: true, force: true });
    rmSync(originDir, { recursive: true, force: true });
  }

  const figures = rows.map((row) => ({
    ...row,
    rps: median(row.rounds.map((r) => r.rps)),
    p50: median(row.rounds.map((r) => r.p50)),
    p99: median(row.rounds.map((r) => r.p99)),
    bytes: median(row.rounds.map((r) => r.bytesPerResponse)),
    cpuUs: (row.cpuSeconds * 1e6) / row.rounds.reduce((sum, r) => sum + r.requests, 0),
    non2xx: row.rounds.reduce((sum, r) => sum + r.non2xx, 0),
    errors: row.rounds.reduce((sum, r) => sum + r.errors, 0),
  }));
  const byName = (name: string) => figures.find((row) => row.route.name === name)!;
  const bareFigures = byName('baseline: bare Express');
  const get = byName('baseline: Express + ioredis GET');
  const set = byName('baseline: Express + ioredis SET');
  const baselineOf = (row: (typeof figures)[number]) =>
    row.route.server === 'bare' ? bareFigures : row.route.method === 'GET' || row.route.path === '/search' ? get : set;
  const percent = (part: number, whole: number) => `${Math.round((part / whole) * 100)}%`;

  console.log(
    `\nnpm run bench: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per route, ` +
      `Node ${process.version}, ${os.cpus().length} CPUs; medians over the rounds; ` +
      `load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0]!.toFixed(1)} after`,
  );
  console.log(`native cluster start-up (six nodes to cluster_state:ok, shipped initiator): ${startupMs} ms\n`);
  console.log(
    '| route | req/s | p50 ms | p99 ms | vs bare | vs minimal ioredis (same command) | vs original (same route) | ' +
      'server CPU µs/request | bytes/response | non-2xx | errors | server idle / peak RSS MB |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of figures) {
    const vsMinimal = row.route.server === 'bare' ? '' : percent(row.rps, baselineOf(row).rps);
    const vsOriginal = row.route.original ? `${speedRatio(row, byName(row.route.original)).toFixed(2)}x` : '';
    const server = servers.get(row.route.server)!;
    console.log(
      `| ${row.route.name} | ${Math.round(row.rps)} | ${row.p50} | ${row.p99} | ${percent(row.rps, bareFigures.rps)} | ${vsMinimal} | ` +
        `${vsOriginal} | ${row.cpuUs.toFixed(1)} | ${Math.round(row.bytes)} | ${row.non2xx} | ${row.errors} | ` +
        `${server.idleRss ?? 'n/a'} / ${peakRss.get(row.route.server) ?? 'n/a'} |`,
    );
  }
  console.log(`\ngoals, app against the original routes in this run (req/s: median of each round's ratio, the two measured back to back):`);
  for (const row of figures.filter((figure) => figure.route.original)) {
    const original = byName(row.route.original!);
    const ratio = speedRatio(row, original);
    console.log(
      `  ${row.route.name}: ${ratio.toFixed(2)}x the original's req/s, ${(row.cpuUs / original.cpuUs).toFixed(2)}x its CPU per request ` +
        `(goal: at least ${SPEED_GOAL.toFixed(1)}x req/s): ${asPrinted(ratio) >= SPEED_GOAL ? 'met' : 'NOT met'}`,
    );
  }
  const appRss = peakRss.get('app');
  const originalRss = peakRss.get('original');
  if (appRss && originalRss) {
    const ratio = appRss / originalRss;
    console.log(
      `  peak RSS, compiled app ${appRss} MB against the original's ${originalRss} MB: ${ratio.toFixed(2)}x ` +
        `(goal: at most ${RSS_GOAL.toFixed(1)}x): ${asPrinted(ratio) <= RSS_GOAL ? 'met' : 'NOT met'}`,
    );
  }
  const jsonGet = byName('app: search, JSON (GET /api/keys/:key)');
  const hit = byName('app: cache-aside hit, JSON (GET /api/products/:id)');
  const sortedMisses = [...misses].sort((a, b) => a - b);
  const missAt = (quantile: number) => sortedMisses[Math.ceil(quantile * sortedMisses.length) - 1]!.toFixed(1);
  console.log(
    `\ncache-aside: a hit costs ${(jsonGet.rps / hit.rps).toFixed(2)}x the JSON GET route in throughput ` +
      `(${Math.round(hit.rps)} vs ${Math.round(jsonGet.rps)} req/s) and ${(hit.cpuUs / jsonGet.cpuUs).toFixed(2)}x in server CPU ` +
      `(${hit.cpuUs.toFixed(1)} vs ${jsonGet.cpuUs.toFixed(1)} µs/request); goal: at most 1.1x`,
  );
  console.log(
    `cache-aside: a miss, one at a time (${MISSES} products): p50 ${missAt(0.5)} ms, p99 ${missAt(0.99)} ms, ` +
      `against the origin's own ${ORIGIN_DELAY_MS} ms`,
  );
  if (figures.some((row) => row.non2xx > 0 || row.errors > 0)) {
    console.error('\nsome requests failed: the figures above are not comparable');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack}`);
  process.exit(1);
});
