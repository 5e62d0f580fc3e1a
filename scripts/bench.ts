/**
 * npm run bench — requests/s and latency of the app's routes beside two
 * baselines measured in the same run, on a native cluster of its own:
 * a bare Express route (no Redis) and a minimal Express + ioredis route.
 * Each server runs in its own process; autocannon drives it from this one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Cluster } from 'ioredis';
import { nativeCluster, runClusterScript, startFresh } from './lib/native-cluster';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const cluster = nativeCluster(7700);
const redisEnv = { REDIS_CLUSTER_URLS: cluster.nodes.slice(0, 3).map((n) => `${n.host}:${n.port}`).join(',') };
const KEY = 'bench:key';

interface Route {
  name: string;
  server: 'bare' | 'minimal' | 'app';
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: string;
  type?: string;
}

const ROUTES: Route[] = [
  { name: 'baseline: bare Express', server: 'bare', method: 'GET', path: '/bare' },
  { name: 'baseline: Express + ioredis GET', server: 'minimal', method: 'GET', path: `/get/${KEY}` },
  { name: 'baseline: Express + ioredis SET', server: 'minimal', method: 'PUT', path: `/set/${KEY}`, body: '{"value":"v"}', type: 'application/json' },
  { name: 'app: search, JSON (GET /api/keys/:key)', server: 'app', method: 'GET', path: `/api/keys/${KEY}` },
  { name: 'app: search, HTML (POST /search)', server: 'app', method: 'POST', path: '/search', body: `key=${KEY}`, type: 'application/x-www-form-urlencoded' },
  { name: 'app: save, JSON (PUT /api/keys/:key)', server: 'app', method: 'PUT', path: `/api/keys/${KEY}`, body: '{"value":"v"}', type: 'application/json' },
  { name: 'app: save, HTML (POST /save-data)', server: 'app', method: 'POST', path: '/save-data', body: `key=${KEY}&value=v`, type: 'application/x-www-form-urlencoded' },
];

async function startServer(kind: Route['server']): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bench-server.ts'), kind], {
    env: { ...process.env, ...redisEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

function rssMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

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
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const started = startFresh(cluster);
  const startupMs = /in (\d+) ms/.exec(started)?.[1];
  const seed = new Cluster(cluster.nodes.slice(0, 1));
  await seed.set(KEY, 'v');
  await seed.quit();

  const rows: { route: Route; rps: number; p50: number; p99: number; non2xx: number; errors: number; rss?: number }[] = [];
  try {
    for (const kind of ['bare', 'minimal', 'app'] as const) {
      const { child, port } = await startServer(kind);
      try {
        for (const route of ROUTES.filter((r) => r.server === kind)) {
          await measure(port, route, 1); // warm-up: JIT, connections, slot cache
          rows.push({ route, ...(await measure(port, route, SECONDS)), rss: rssMb(child.pid) });
        }
      } finally {
        child.kill('SIGTERM');
      }
    }
  } finally {
    runClusterScript(cluster, 'clean');
  }

  const rpsOf = (name: string) => rows.find((row) => row.route.name === name)!.rps;
  const bare = rpsOf('baseline: bare Express');
  const get = rpsOf('baseline: Express + ioredis GET');
  const set = rpsOf('baseline: Express + ioredis SET');
  const against = (row: (typeof rows)[number]) =>
    row.route.server === 'bare' ? bare : row.route.method === 'GET' || row.route.path === '/search' ? get : set;

  console.log(`\nnpm run bench: ${CONNECTIONS} connections, ${SECONDS} s per route, Node ${process.version}, ${os.cpus().length} CPUs`);
  console.log(`native cluster start-up (six nodes to cluster_state:ok, shipped initiator): ${startupMs} ms\n`);
  console.log('| route | req/s | p50 ms | p99 ms | vs bare | vs minimal ioredis (same command) | non-2xx | errors | server peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    const vsBare = `${Math.round((row.rps / bare) * 100)}%`;
    const vsMinimal = row.route.server === 'bare' ? '' : `${Math.round((row.rps / against(row)) * 100)}%`;
    console.log(
      `| ${row.route.name} | ${Math.round(row.rps)} | ${row.p50} | ${row.p99} | ${vsBare} | ${vsMinimal} | ${row.non2xx} | ${row.errors} | ${row.rss ?? 'n/a'} |`,
    );
  }
  if (rows.some((row) => row.non2xx > 0 || row.errors > 0)) {
    console.error('\nsome requests failed: the figures above are not comparable');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack}`);
  process.exit(1);
});
