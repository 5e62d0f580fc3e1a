import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { firstWriteAfter, startLoad, type LoadStats } from '../../scripts/lib/load';
import { eventually } from './cluster-client';
import { nodePid, type NativeCluster } from './native-cluster';

export interface MasterKill {
  /** From the SIGKILL until CLUSTER NODES shows the dead master failed and its replica owning slot 0. */
  promotedMs: number;
  /** From then until the app's first acknowledged write to those slots (undefined: none). */
  firstWriteMs: number | undefined;
  result: LoadStats;
}

/**
 * SIGKILLs the cluster's first master (base port: it owns 0-5460 after cluster
 * create) while 8 HTTP workers save and search through the app, waits for its
 * replica to take over, keeps the load on 2 s more and returns the figures.
 * `probe` is a connection to another node that may run CLUSTER NODES.
 */
export async function killMasterUnderLoad(cluster: NativeCluster, app: Express, probe: Redis, keyPrefix = 'load'): Promise<MasterKill> {
  const victim = cluster.basePort;
  const victimId = String(await probe.cluster('NODES'))
    .split('\n')
    .find((line) => line.includes(`:${victim}@`))!
    .split(' ')[0]!;
  const load = await startLoad(app, 8, keyPrefix);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const killedAt = Date.now();
  process.kill(nodePid(cluster.dir, victim), 'SIGKILL');

  // Promoted once the others agree the master failed and its replica holds its slots.
  const promotedMs = await eventually(
    async () => {
      const lines = String(await probe.cluster('NODES')).split('\n');
      const dead = lines.find((line) => line.startsWith(victimId));
      const replicaNowMaster = lines.some(
        (line) => !line.startsWith(victimId) && / master /.test(` ${line.split(' ')[2]?.replace(',', ' ')} `) && line.includes('0-5460'),
      );
      return dead?.includes('fail') && replicaNowMaster ? Date.now() - killedAt : undefined;
    },
    20_000,
    'the replica to be promoted',
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const result = await load.stop();
  return { promotedMs, firstWriteMs: firstWriteAfter(result, killedAt + promotedMs, (slot) => slot <= 5460), result };
}

/** One line of figures for the test's output: reported, not asserted (they are the machine's as much as the app's). */
export function describeKill(label: string, { promotedMs, firstWriteMs, result }: MasterKill): string {
  return (
    `${label}: failover after ${promotedMs} ms; first write to its slots ${firstWriteMs ?? 'never'} ms after the promotion was seen; ` +
    `${result.requests} requests, statuses ${JSON.stringify(result.statuses)}, ` +
    `network errors ${result.networkErrors}, slowest ${Math.round(result.slowestMs)} ms`
  );
}
