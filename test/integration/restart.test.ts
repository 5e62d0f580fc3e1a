import { connectCluster } from '../support/cluster-client';
import { testCluster, runClusterScript, startFresh } from '../support/native-cluster';

// A cluster of its own: stopping the shared one would disturb other tests.
const cluster = testCluster(7400);

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
});

describe('a restarted cluster', () => {
  it('comes back with the same shape and every saved key', async () => {
    startFresh(cluster);
    const keys = Array.from({ length: 50 }, (_, i) => `restart:${i}`);
    let client = await connectCluster(cluster);
    await Promise.all(keys.map((key) => client.set(key, `value ${key}`)));
    await client.quit();

    runClusterScript(cluster, 'stop');
    const output = runClusterScript(cluster, 'start');

    expect(output).toContain('cluster already formed');
    client = await connectCluster(cluster);
    try {
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => `value ${key}`));
      expect(await client.cluster('INFO')).toContain('cluster_state:ok');
    } finally {
      await client.quit();
    }
  });
});
