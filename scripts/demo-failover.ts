/**
 * npm run demo:failover — kills a master of the native cluster (npm run
 * cluster:start) while the app is under steady load, and narrates what
 * happens: the requests keep succeeding, only slower, while its replica takes
 * over; then the killed node is started again and rejoins as a replica.
 */
import path from 'node:path';
import { loadConfig } from '../src/config';
import { retryPlan } from '../src/redis';
import { demoApp } from './lib/demo-app';
import { failures, firstWriteAfter, startLoad } from './lib/load';
import { nodePid, runClusterScript } from './lib/native-cluster';

const root = path.join(__dirname, '..');
const clusterDir = process.env.CLUSTER_DIR ?? path.join(root, '.cluster');
const say = (text: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${text}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...process.env });
  const plan = retryPlan(config.redis.clusterNodeTimeoutMs);
  const { app, cluster, view, reasons } = demoApp(config);

  const before = await view.overview();
  const victim = before.nodes.find((node) => node.role === 'master' && !node.failed && node.slots.length > 0);
  if (before.state !== 'ok' || !victim) throw new Error('the cluster is not healthy: run `npm run cluster:start` first');
  const replica = before.nodes.find((node) => node.masterId === victim.id);
  const port = victim.address.split(':').pop()!;
  const pid = nodePid(clusterDir, port);

  say(
    `cluster ok; ioredis retries every ${plan.retryDelayMs} ms for up to ${plan.maxRedirections} redirections, request deadline ${plan.commandDeadlineMs} ms`,
  );
  say(`8 workers now save and search keys in every slot, through the app over HTTP`);
  const load = await startLoad(app, 8, 'demo');
  let last = { requests: 0, failed: 0 };
  const ticker = setInterval(() => {
    const failed = failures(load.stats);
    say(
      `  ${load.stats.requests - last.requests} requests in the last second, ${failed - last.failed} failed, slowest so far ${Math.round(load.stats.slowestMs)} ms`,
    );
    last = { requests: load.stats.requests, failed };
  }, 1000);

  await sleep(2000);
  say(`kill -9 master ${victim.address} (slots ${victim.slots.join(' ')}; replica ${replica?.address ?? 'none'})`);
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');

  // CLUSTER NODES every 25 ms, so the promotion is seen within about that of when it happens.
  let promotedAt: number;
  for (;;) {
    await sleep(25);
    const nodes = await cluster.cluster('NODES').catch(() => '');
    const line = String(nodes)
      .split('\n')
      .find((entry) => entry.startsWith(`${replica?.id} `));
    if (line && /(^|,)master(,|$)/.test(line.split(' ')[2] ?? '')) {
      promotedAt = Date.now();
      say(`replica ${replica?.address} is master now, ${promotedAt - killedAt} ms after the kill`);
      break;
    }
    if (Date.now() - killedAt > 30_000) throw new Error('no failover within 30 s');
  }
  await sleep(2000);
  const ranges = victim.slots.map((range) => range.split('-').map(Number));
  const lost = (slot: number) => ranges.some(([start = NaN, end = start]) => slot >= start && slot <= end);
  const lag = firstWriteAfter(load.stats, promotedAt, lost);
  say(`the app's first write to ${victim.slots.join(' ')} was acknowledged ${lag ?? 'no'} ms after the promotion was seen`);
  clearInterval(ticker);
  const total = await load.stop();
  say(
    `done: ${total.requests} requests, ${failures(total)} failed (statuses ${JSON.stringify(total.statuses)}, ${total.networkErrors} without an answer), slowest ${Math.round(total.slowestMs)} ms`,
  );

  if (reasons.size > 0) say(`why requests failed: ${[...reasons].join(' | ')}`);
  say(`starting ${victim.address} again: it rejoins as a replica of its former replica`);
  runClusterScript({ env: {} }, 'start');
  await sleep(1500);
  const after = await view.overview();
  const back = after.nodes.find((node) => node.id === victim.id);
  say(`${victim.address} is now a ${back?.role ?? 'missing node'}; cluster_state ${after.state}`);
  await cluster.quit();
}

main().catch((error: unknown) => {
  console.error(`demo:failover: ${(error as Error).message}`);
  process.exit(1);
});
