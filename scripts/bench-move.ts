/**
 * npm run bench:move — how fast slots and their keys move when a shard is
 * added and removed (redis/cluster-scale.sh, through redis/native-cluster.sh),
 * for several --cluster-pipeline values, while 8 HTTP workers keep using the
 * app. On a native cluster of its own, loaded with BENCH_MOVE_KEYS keys.
 *
 * A first add and remove before any key is loaded measures what moving 4096
 * slots costs by itself; each pipeline's run then moves the keys as well.
 * The pipelines take turns for BENCH_MOVE_ROUNDS rounds, so a slow spell of
 * this shared machine lands on each alike; the summary gives each one's median.
 * Keys moved are the loaded keys whose slots changed hands (the workers' own
 * keys move too, and are not counted).
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { clusterOptions, createRedisServices } from '../src/redis';
import { failures, startLoad, type RunningLoad } from './lib/load';
import { nativeCluster, runClusterScript, runClusterScriptAsync, startFresh } from './lib/native-cluster';
import { clusterCheck, shardsOf, type Shard } from './lib/shards';

const BASE_PORT = Number(process.env.BENCH_MOVE_BASE_PORT ?? 8300);
const KEYS = Number(process.env.BENCH_MOVE_KEYS ?? 200_000);
const PIPELINES = (process.env.BENCH_MOVE_PIPELINES ?? '10,100,1000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_MOVE_ROUNDS ?? 2);
const WORKERS = 8;
const cluster = nativeCluster(BASE_PORT);
const say = (text: string) => console.log(`[bench:move] ${text}`);

interface Move {
  phase: string;
  pipeline: number;
  slots: number;
  keys: number;
  ms: number;
  failed: number;
  slowestMs: number;
}

/** Loads keys through the cluster client, a batch at a time; returns how many loaded keys each slot holds. */
async function loadKeys(client: Cluster, count: number): Promise<number[]> {
  const perSlot = new Array<number>(16384).fill(0);
  const value = 'x'.repeat(32);
  for (let start = 0; start < count; start += 5000) {
    const batch = Array.from({ length: Math.min(5000, count - start) }, (_, i) => `move:${start + i}`);
    await Promise.all(batch.map((key) => client.set(key, value)));
    for (const key of batch) perSlot[calculateSlot(key)]! += 1;
  }
  return perSlot;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const keysIn = (shard: Shard, perSlot: number[]) =>
  shard.ranges.reduce((sum, [start, end]) => sum + perSlot.slice(start, end + 1).reduce((a, b) => a + b, 0), 0);

/** The shard that holds the given node, as master or replica (a failover may have swapped them). */
const shardWith = (shards: Shard[], address: string) =>
  shards.find((shard) => shard.address === address || shard.replicas.some((replica) => replica.address === address));

async function main(): Promise<void> {
  say(
    `native cluster on ${BASE_PORT}..${BASE_PORT + 7}; ${KEYS} keys; pipelines ${PIPELINES.join(', ')}, ${ROUNDS} round(s); ${WORKERS} workers`,
  );
  startFresh(cluster);
  const config = loadConfig({ NODE_ENV: 'test', REDIS_CLUSTER_URLS: `127.0.0.1:${BASE_PORT}`, ...cluster.env });
  const client = new Cluster(cluster.nodes.slice(0, 3), clusterOptions(config.redis));
  client.on('error', () => {});
  const app = createApp({ ...createRedisServices(client, config.redis), logger: createLogger('silent'), config });
  const newMaster = `127.0.0.1:${BASE_PORT + 6}`;
  const moves: Move[] = [];
  let load: RunningLoad | undefined;
  try {
    load = await startLoad(app, WORKERS, 'bench-move');
    const running = load;
    const shards = async () => shardsOf(String(await client.nodes('master')[0]!.cluster('NODES')));

    /** One add-shard then remove-shard at this pipeline; keys counted from perSlot. */
    const cycle = async (phase: string, pipeline: number, perSlot: number[]) => {
      for (const command of ['add-shard', 'remove-shard'] as const) {
        const before = shardWith(await shards(), newMaster);
        const failedBefore = failures(running.stats);
        running.stats.slowestMs = 0; // the slowest request of this move alone
        const output = await runClusterScriptAsync({ env: { ...cluster.env, SCALE_PIPELINE: String(pipeline) } }, command, 300_000);
        const after = shardWith(await shards(), newMaster);
        const moved = command === 'add-shard' ? after : before;
        const ms = Number(/(?:moved \d+ slots onto|moved every slot off) \S+ in (\d+) ms/.exec(output)?.[1]);
        if (!moved || !ms) throw new Error(`${command}: no move found in its output:\n${output}`);
        const move = {
          phase: `${phase}, ${command}`,
          pipeline,
          slots: moved.slots,
          keys: keysIn(moved, perSlot),
          ms,
          failed: failures(running.stats) - failedBefore,
          slowestMs: Math.round(running.stats.slowestMs),
        };
        moves.push(move);
        say(
          `${move.phase}, pipeline ${pipeline}: ${move.slots} slots, ${move.keys} keys in ${ms} ms ` +
            `(${Math.round((move.keys / ms) * 1000)} keys/s); ${move.failed} failed requests, slowest ${move.slowestMs} ms`,
        );
      }
    };

    await cycle('empty', PIPELINES[0]!, new Array<number>(16384).fill(0));
    say(`loading ${KEYS} keys`);
    const perSlot = await loadKeys(client, KEYS);
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const pipeline of PIPELINES) await cycle(`${KEYS} keys`, pipeline, perSlot);
    }

    const check = await clusterCheck(`127.0.0.1:${BASE_PORT}`);
    say(`--cluster check: ${check.clean ? 'clean' : check.problems.join(' | ')}`);
  } finally {
    const total = load ? await load.stop() : undefined;
    if (total) {
      say(`${total.requests} requests in all, ${failures(total)} failed (statuses ${JSON.stringify(total.statuses)})`);
    }
    await client.quit().catch(() => {});
    runClusterScript(cluster, 'clean');
  }

  console.log('\n| move | --cluster-pipeline | slots | keys | ms | keys/s | failed requests | slowest request |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const move of moves) {
    const rate = move.keys ? Math.round((move.keys / move.ms) * 1000) : '—';
    console.log(
      `| ${move.phase} | ${move.pipeline} | ${move.slots} | ${move.keys} | ${move.ms} | ${rate} | ${move.failed} | ${move.slowestMs} ms |`,
    );
  }

  const loaded = moves.filter((move) => move.keys > 0);
  const base = median(loaded.filter((move) => move.pipeline === PIPELINES[0]).map((move) => (move.keys / move.ms) * 1000));
  console.log(`\nMedian keys/s per pipeline (add and remove together), against ${PIPELINES[0]}:`);
  for (const pipeline of PIPELINES) {
    const rate = median(loaded.filter((move) => move.pipeline === pipeline).map((move) => (move.keys / move.ms) * 1000));
    console.log(`  --cluster-pipeline ${pipeline}: ${Math.round(rate)} keys/s (${(rate / base).toFixed(1)}x)`);
  }
}

main().catch((error: unknown) => {
  console.error(`bench:move: ${(error as Error).message}`);
  process.exit(1);
});
