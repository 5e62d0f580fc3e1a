import { createApp } from '../../src/app';
import { createRedisServices, retryPlan } from '../../src/redis';
import { connectCluster, connectNode } from '../support/cluster-client';
import { silentLogger, testConfig } from '../support/fakes';
import { failures } from '../../scripts/lib/load';
import { describeKill, killMasterUnderLoad } from '../support/master-kill';
import { testCluster, runClusterScript, startFresh } from '../support/native-cluster';

// A cluster of its own: this test kills one of its masters.
const cluster = testCluster(7500);

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
});

describe('a master killed under steady load', () => {
  it('costs no failed request: its replica takes over and every acknowledged write is readable', async () => {
    startFresh(cluster);
    const config = testConfig(cluster.env);
    const client = await connectCluster(cluster);
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (msg: string, fields?: Record<string, unknown>) => warnings.push(`${msg}: ${String(fields?.error)}`),
    };
    const app = createApp({ ...createRedisServices(client, config.redis), logger, config });
    const probe = connectNode(cluster.basePort + 1);
    try {
      const kill = await killMasterUnderLoad(cluster, app, probe);
      const { promotedMs: promoted, result } = kill;
      console.info(describeKill('master kill', kill) + (warnings.length ? `; warnings: ${[...new Set(warnings)].join(' | ')}` : ''));
      expect(failures(result)).toBe(0);
      expect(Object.keys(result.statuses)).toEqual(['200']);
      expect(result.requests).toBeGreaterThan(100);
      expect(result.slowestMs).toBeLessThan(promoted + 1000);
      expect(promoted).toBeLessThan(retryPlan(config.redis.clusterNodeTimeoutMs).failoverMs);

      const keys = [...result.acknowledged.keys()];
      const values = await Promise.all(keys.map((key) => client.get(key)));
      expect(values).toEqual(keys.map((key) => result.acknowledged.get(key)));
    } finally {
      await Promise.all([client.quit(), probe.quit()]);
    }
  }, 60_000);
});
