/**
 * npm run demo:scale — adds a shard to the native cluster (npm run
 * cluster:start) while the app is under steady load, then removes it again,
 * and narrates second by second: the shard joining, the slots and keys moving
 * and how fast, the requests served meanwhile and how many failed, the shard
 * leaving. The cluster ends as it began.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config';
import { connectionOptions } from '../src/redis';
import { demoApp } from './lib/demo-app';
import { failures, startLoad } from './lib/load';
import { runClusterScriptAsync, type ClusterCommand } from './lib/native-cluster';
import { openSlotsOf, shardsOf, type Shard } from './lib/shards';

const BASE_PORT = Number(process.env.CLUSTER_BASE_PORT ?? 7000);
/** Keys loaded first, so the move has something to carry; removed at the end. */
const SEED_KEYS = Number(process.env.DEMO_SCALE_KEYS ?? 50_000);
const WORKERS = 8;
const say = (text: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${text}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const thousands = (n: number) => (Math.abs(n) >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n));
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

interface Move {
  ms: number;
  slots: number;
  keys: number;
}

async function main(): Promise<void> {
  const env = {
    LOG_LEVEL: 'silent',
    // REDIS_PASSWORD is the admin password here, as for the cluster scripts this demo runs.
    ...(process.env.REDIS_PASSWORD ? { REDIS_USERNAME: 'admin' } : {}),
    REDIS_CLUSTER_URLS: [0, 1, 2].map((i) => `127.0.0.1:${BASE_PORT + i}`).join(','),
    ...process.env,
  };
  const config = loadConfig(env);
  const { app, cluster, store, view, reasons } = demoApp(config);
  const connections = new Map<string, Redis>();
  /** A plain connection to one node, made once. */
  const node = (address: string) => {
    let connection = connections.get(address);
    if (!connection) {
      const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
      connection = new Redis({ host, port, ...connectionOptions(config.redis), maxRetriesPerRequest: 1 }).on('error', () => {});
      connections.set(address, connection);
    }
    return connection;
  };
  const entry = `127.0.0.1:${BASE_PORT}`;
  const shards = async () => shardsOf(String(await node(entry).cluster('NODES')));
  const describe = (list: Shard[]) => list.map((shard) => `${shard.address} (${shard.slots} slots)`).join(', ');

  const before = await view.overview();
  if (before.state !== 'ok') throw new Error('the cluster is not healthy: run `npm run cluster:start` first');
  const original = await shards();
  say(`cluster ok: ${original.length} shards: ${describe(original)}`);

  say(`loading ${SEED_KEYS} keys (demo-scale:*) so the move has something to carry`);
  const seeded = Array.from({ length: SEED_KEYS }, (_, i) => `demo-scale:${i}`);
  for (let start = 0; start < seeded.length; start += 5000) {
    await Promise.all(seeded.slice(start, start + 5000).map((key) => store.set(key, 'x'.repeat(32))));
  }

  say(`${WORKERS} workers now save and search keys in every slot, through the app over HTTP`);
  const load = await startLoad(app, WORKERS, 'demo-scale');

  /** The shard being added or removed, watched each second: its slots, its keys, its open slots. */
  let moving: string | undefined;
  let lastKeys = { keys: 0, at: Date.now() };
  let last = { requests: 0, failed: 0 };
  let sampling = false;
  const tick = async () => {
    if (sampling) return;
    sampling = true;
    try {
      const failed = failures(load.stats);
      let line = `  ${load.stats.requests - last.requests} requests in the last second, ${failed} failed so far`;
      last = { requests: load.stats.requests, failed };
      if (moving) {
        const [nodes, keys] = await Promise.all([node(moving).cluster('NODES'), node(moving).dbsize()]);
        const own = shardsOf(String(nodes)).find((shard) => shard.address === moving);
        const open = openSlotsOf(String(nodes));
        const perSecond = Math.round(((keys - lastKeys.keys) * 1000) / (Date.now() - lastKeys.at));
        line =
          `  ${moving}: ${own?.slots ?? 0} slots, ${thousands(keys)} keys (${perSecond >= 0 ? '+' : ''}${thousands(perSecond)} keys/s)` +
          `${open.length ? `, slot ${open.join(' ')} moving` : ''};${line}`;
        lastKeys = { keys, at: Date.now() };
      }
      say(line);
    } catch {
      // A node on its way in or out may not answer for a moment; the next tick tries again.
    } finally {
      sampling = false;
    }
  };
  const ticker = setInterval(() => void tick(), 1000);

  /**
   * Runs add-shard or remove-shard, relaying the script's own account of each
   * step; returns how long the slots took to move, as the script timed it.
   */
  const scale = async (command: ClusterCommand): Promise<number> => {
    const started = Date.now();
    const output = await runClusterScriptAsync({ env: {} }, command, 300_000, (line) => {
      const text = line.replace(COLOUR, '').trim();
      if (/^(cluster-scale|native-cluster):|^Moving \d+ slots/.test(text)) say(`    ${text}`);
    });
    return Number(/(?:moved \d+ slots onto|moved every slot off) \S+ in (\d+) ms/.exec(output)?.[1] ?? Date.now() - started);
  };

  await sleep(2000);
  const master = `127.0.0.1:${BASE_PORT + original.length * 2}`;
  const replica = `127.0.0.1:${BASE_PORT + original.length * 2 + 1}`;
  say(`npm run cluster:add-shard: a master on ${master} and its replica on ${replica} join as a shard`);
  [moving, lastKeys] = [master, { keys: 0, at: Date.now() }];
  const addMs = await scale('add-shard');
  moving = undefined;
  const grown = await shards();
  const added: Move = { ms: addMs, slots: grown.find((shard) => shard.address === master)?.slots ?? 0, keys: await node(master).dbsize() };
  say(`${grown.length} shards now: ${describe(grown)}`);

  await sleep(3000);
  const leaving = (await shards()).find((shard) => shard.address === master);
  const leavingKeys = await node(master).dbsize();
  say(`npm run cluster:remove-shard: ${master} hands its slots to the others and leaves with ${replica}`);
  [moving, lastKeys] = [master, { keys: leavingKeys, at: Date.now() }];
  const removed: Move = { ms: await scale('remove-shard'), slots: leaving?.slots ?? 0, keys: leavingKeys };
  moving = undefined;
  const shrunk = await shards();
  say(`${shrunk.length} shards again: ${describe(shrunk)}`);

  await sleep(2000);
  clearInterval(ticker);
  const total = await load.stop();
  const rate = (move: Move) => `${move.slots} slots and about ${thousands(move.keys)} keys in ${(move.ms / 1000).toFixed(1)} s`;
  say(
    `done: ${total.requests} requests, ${failures(total)} failed (statuses ${JSON.stringify(total.statuses)}, ` +
      `${total.networkErrors} without an answer), slowest ${Math.round(total.slowestMs)} ms; ` +
      `joining moved ${rate(added)}, leaving moved ${rate(removed)}`,
  );
  if (reasons.size > 0) say(`why requests failed: ${[...reasons].join(' | ')}`);

  say(`removing the ${SEED_KEYS} demo-scale:* keys and the workers' keys`);
  // Through the store, which sends again what an auto-pipelined batch hands back with MOVED after the moves.
  const keys = [...seeded, ...total.acknowledged.keys()];
  for (let start = 0; start < keys.length; start += 5000) {
    await Promise.all(keys.slice(start, start + 5000).map((key) => store.del(key)));
  }
  await Promise.all([cluster.quit(), ...[...connections.values()].map((connection) => connection.quit())]);
}

main().catch((error: unknown) => {
  console.error(`demo:scale: ${(error as Error).message}`);
  process.exit(1);
});
