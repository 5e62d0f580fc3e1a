/**
 * npm run load:restarts — steady load on the app for LOAD_SECONDS (60) while
 * the nodes of a native cluster of its own are restarted one at a time
 * (SIGTERM, then started again by redis/native-cluster.sh). Afterwards every
 * write the app acknowledged must read back. Prints the counts; exits 1 if a
 * write was lost or a request failed. Loopback only; stops all it started.
 */
import { existsSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { clusterOptions, createRedisServices } from '../src/redis';
import { failures, startLoad } from './lib/load';
import { nativeCluster, nodePid, nodePidFile, runClusterScript, startFresh } from './lib/native-cluster';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const WORKERS = Number(process.env.LOAD_WORKERS ?? 8);
const cluster = nativeCluster(7800);
const BASE_PORT = cluster.basePort;
const say = (text: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function restart(port: number): Promise<void> {
  const pidfile = nodePidFile(cluster.dir, port);
  process.kill(nodePid(cluster.dir, port), 'SIGTERM');
  for (let waited = 0; existsSync(pidfile); waited += 100) {
    if (waited > 15_000) throw new Error(`node ${port} did not stop within 15 s`);
    await sleep(100);
  }
  // start brings the missing node back and waits until the whole cluster is ok again.
  runClusterScript(cluster, 'start', 90_000);
}

async function main(): Promise<void> {
  startFresh(cluster);
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    REDIS_CLUSTER_URLS: `127.0.0.1:${BASE_PORT},127.0.0.1:${BASE_PORT + 1},127.0.0.1:${BASE_PORT + 2}`,
  });
  const client = new Cluster(config.redis.nodes, clusterOptions(config.redis));
  client.on('error', () => {});
  const app = createApp({ ...createRedisServices(client, config.redis), logger: createLogger('silent'), config });

  let restarts = 0;
  try {
    say(`${WORKERS} workers save and search through the app for ${SECONDS} s; nodes ${BASE_PORT}-${BASE_PORT + 5} restart one at a time`);
    const load = await startLoad(app, WORKERS, 'restarts');
    const endAt = Date.now() + SECONDS * 1000;
    const gap = (SECONDS * 1000) / 7;
    for (let i = 0; Date.now() + gap < endAt; i = (i + 1) % 6) {
      await sleep(gap / 2);
      const port = BASE_PORT + i;
      const started = Date.now();
      await restart(port);
      restarts += 1;
      say(
        `restarted ${port} (back and cluster ok in ${Date.now() - started} ms); ${load.stats.requests} requests so far, ${failures(load.stats)} failed`,
      );
      await sleep(Math.max(0, Math.min(gap / 2, endAt - Date.now())));
    }
    await sleep(Math.max(0, endAt - Date.now()));
    const stats = await load.stop();

    const keys = [...stats.acknowledged.keys()];
    const values = await Promise.all(keys.map((key) => client.get(key)));
    const lost = keys.filter((key, i) => values[i] !== stats.acknowledged.get(key));
    say(
      `done: ${stats.requests} requests, ${failures(stats)} failed (${JSON.stringify(stats.statuses)}, ${stats.networkErrors} without an answer), ` +
        `slowest ${Math.round(stats.slowestMs)} ms, ${restarts} node restarts, ${keys.length} acknowledged writes, ${lost.length} lost`,
    );
    if (lost.length > 0 || failures(stats) > 0) {
      if (lost.length) say(`lost, for example: ${lost.slice(0, 5).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await client.quit().catch(() => client.disconnect());
    runClusterScript(cluster, 'clean');
  }
}

main().catch((error: unknown) => {
  console.error(`load:restarts: ${(error as Error).stack}`);
  process.exit(1);
});
