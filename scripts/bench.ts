/**
 * npm run bench — requests/s, latency and server CPU per request of the app's
 * routes beside baselines measured in the same run, on a native cluster of its
 * own: a bare Express route (no Redis), the same route sending as many bytes
 * as the app's HTML page, and a minimal Express + ioredis route.
 *
 * Each server runs in its own process and autocannon drives it from this one.
 * Every server stays up for the whole run and the routes take turns, round
 * after round, so a slow spell of this shared machine lands on every route
 * alike; each figure is the median over the rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

type ServerKind = 'bare' | 'minimal' | 'app';

interface Route {
  name: string;
  server: ServerKind;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: string;
  type?: string;
  /** Send as many bytes as this route's responses: the path then ends with the count. */
  bytesOf?: string;
}

const ROUTES: Route[] = [
  { name: 'baseline: bare Express', server: 'bare', method: 'GET', path: '/bare' },
  {
    name: 'baseline: bare Express, as many bytes as the HTML search page',
    server: 'bare',
    method: 'GET',
    path: '/bytes/',
    bytesOf: '/search',
  },
  { name: 'baseline: Express + ioredis GET', server: 'minimal', method: 'GET', path: `/get/${KEY}` },
  {
    name: 'baseline: Express + ioredis SET',
    server: 'minimal',
    method: 'PUT',
    path: `/set/${KEY}`,
    body: '{"value":"v"}',
    type: 'application/json',
  },
  { name: 'app: search, JSON (GET /api/keys/:key)', server: 'app', method: 'GET', path: `/api/keys/${KEY}` },
  // The warm-up round loads product 1 into the cache; every measured request is a hit.
  { name: 'app: cache-aside hit, JSON (GET /api/products/:id)', server: 'app', method: 'GET', path: '/api/products/1' },
  {
    name: 'app: search, HTML (POST /search)',
    server: 'app',
    method: 'POST',
    path: '/search',
    body: `key=${KEY}`,
    type: 'application/x-www-form-urlencoded',
  },
  {
    name: 'app: save, JSON (PUT /api/keys/:key)',
    server: 'app',
    method: 'PUT',
    path: `/api/keys/${KEY}`,
    body: '{"value":"v"}',
    type: 'application/json',
  },
  {
    name: 'app: save, HTML (POST /save-data)',
    server: 'app',
    method: 'POST',
    path: '/save-data',
    body: `key=${KEY}&value=v`,
    type: 'application/x-www-form-urlencoded',
  },
];

async function startServer(kind: ServerKind): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bench-server.ts'), kind], {
    env: { ...process.env, ...redisEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

function peakRssMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
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
  rss?: number | undefined;
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
  const started = startFresh(cluster);
  const startupMs = /in (\d+) ms/.exec(started)?.[1];
  const seed = new Cluster(cluster.nodes.slice(0, 1));
  await seed.set(KEY, 'v');
  await seed.quit();

  const servers = new Map<ServerKind, { child: ChildProcess; port: number }>();
  const rows: Row[] = ROUTES.map((route) => ({ route, rounds: [], cpuSeconds: 0 }));
  const bare = ROUTES[0]!;
  let misses: number[];
  try {
    for (const kind of ['bare', 'minimal', 'app'] as const) servers.set(kind, await startServer(kind));
    const run = async (row: Row, seconds: number) => {
      const { child, port } = servers.get(row.route.server)!;
      const before = cpuSeconds(child.pid);
      const result = await measure(port, row.route, seconds);
      row.cpuSeconds += cpuSeconds(child.pid) - before;
      return result;
    };
    const bytesPerResponse = async (route: Route) => {
      const { bytes, requests } = await measure(servers.get(route.server)!.port, route, 1);
      return bytes / requests;
    };
    for (const row of rows) {
      if (row.route.bytesOf) {
        // Whole responses as long as the other route's, headers included.
        const target = await bytesPerResponse(ROUTES.find((route) => route.path === row.route.bytesOf)!);
        const bareHeaders = (await bytesPerResponse(bare)) - 'ok'.length;
        row.route = { ...row.route, path: `${row.route.path}${Math.round(target - bareHeaders)}` };
      }
      await measure(servers.get(row.route.server)!.port, row.route, 1); // warm-up: JIT, connections, slot cache
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const row of rows) row.rounds.push(await run(row, SECONDS));
    }
    for (const row of rows) row.rss = peakRssMb(servers.get(row.route.server)!.child.pid);
    misses = await missLatencies(servers.get('app')!.port);
  } finally {
    for (const { child } of servers.values()) child.kill('SIGTERM');
    runClusterScript(cluster, 'clean');
    rmSync(originDir, { recursive: true, force: true });
  }

  const figures = rows.map((row) => ({
    ...row,
    rps: median(row.rounds.map((r) => r.rps)),
    p50: median(row.rounds.map((r) => r.p50)),
    p99: median(row.rounds.map((r) => r.p99)),
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
      `Node ${process.version}, ${os.cpus().length} CPUs; medians over the rounds`,
  );
  console.log(`native cluster start-up (six nodes to cluster_state:ok, shipped initiator): ${startupMs} ms\n`);
  console.log(
    '| route | req/s | p50 ms | p99 ms | vs bare | vs minimal ioredis (same command) | server CPU µs/request | non-2xx | errors | server peak RSS MB |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of figures) {
    const vsMinimal = row.route.server === 'bare' ? '' : percent(row.rps, baselineOf(row).rps);
    console.log(
      `| ${row.route.name} | ${Math.round(row.rps)} | ${row.p50} | ${row.p99} | ${percent(row.rps, bareFigures.rps)} | ${vsMinimal} | ` +
        `${row.cpuUs.toFixed(1)} | ${row.non2xx} | ${row.errors} | ${row.rss ?? 'n/a'} |`,
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
