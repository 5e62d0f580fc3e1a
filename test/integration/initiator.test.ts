import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { connectCluster, connectNode } from '../support/cluster-client';
import { SHARED_CLUSTER } from '../support/native-cluster';

const INIT = path.join(__dirname, '..', '..', 'redis', 'cluster-init.sh');

function runInitiator(env: Record<string, string>) {
  return spawnSync('sh', [INIT], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
}

const nodeList = SHARED_CLUSTER.nodes.map((n) => `${n.host}:${n.port}`).join(' ');

describe('redis/cluster-init.sh', () => {
  it('leaves a formed cluster as it is: same node ids, same data, exit 0', async () => {
    const client = await connectCluster(SHARED_CLUSTER);
    const first = connectNode(SHARED_CLUSTER.basePort);
    try {
      const key = `initiator:kept:${Date.now()}`;
      await client.set(key, 'still here');
      const idsBefore = await first.cluster('MYID');

      const result = runInitiator({ REDIS_NODES: nodeList });

      expect(result.status).toBe(0);
      expect(result.stdout).toContain('cluster already formed');
      expect(result.stdout).toContain('cluster_state:ok on every node');
      expect(await first.cluster('MYID')).toBe(idsBefore);
      expect(await client.get(key)).toBe('still here');
    } finally {
      await Promise.all([client.quit(), first.quit()]);
    }
  });

  it('fails with a clear message when a node never answers', () => {
    // Port 1 on loopback: nothing listens there.
    const result = runInitiator({ REDIS_NODES: '127.0.0.1:1', CLUSTER_INIT_TIMEOUT: '1' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('timed out after 1s waiting for 127.0.0.1:1 to answer PING');
  });

  it('prints its usage and exits 2 without a node list', () => {
    const result = runInitiator({ REDIS_NODES: '' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage:');
  });
});
