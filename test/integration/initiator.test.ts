import { spawnSync } from 'node:child_process';
import path from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { connectCluster, connectNode, nodesForKey } from '../support/cluster-client';
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

  it('repairs a slot a node opened for keys of a slot it does not own: one node keeps them, the slot is closed', async () => {
    const client = await connectCluster(SHARED_CLUSTER);
    const key = `initiator:orphan:${Date.now()}`;
    const slot = calculateSlot(key);
    const { master } = await nodesForKey(client, key);
    const masters = String(await client.cluster('NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter(([, , flags]) => flags!.includes('master'));
    const ownerId = masters.find(([, address]) => address!.includes(`:${master}@`))![0]!;
    const otherPort = Number(/:(\d+)@/.exec(masters.find(([id]) => id !== ownerId)![1]!)![1]);
    const other = connectNode(otherPort);
    try {
      // What a node does when it loads keys of a slot it does not own: it opens the slot as importing.
      await other.cluster('SETSLOT', slot, 'IMPORTING', ownerId);
      await other.pipeline().call('ASKING').set(key, 'left behind').exec();

      const result = runInitiator({ REDIS_NODES: nodeList });
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`open slot(s) ${slot}: a node holds keys of a slot it does not own`);
      expect(result.stdout).toContain('repaired: no open slot');
      // redis-cli gives the slot to whichever node holds most of its keys: here the one that held the key.
      const holders = await Promise.all(
        masters.map(async ([, address]) => {
          const node = connectNode(Number(/:(\d+)@/.exec(address!)![1]));
          try {
            return Number(await node.cluster('COUNTKEYSINSLOT', slot));
          } finally {
            await node.quit();
          }
        }),
      );
      expect(holders.reduce((sum, n) => sum + n, 0)).toBe(1);
      expect(await client.get(key)).toBe('left behind');
    } finally {
      await Promise.all([client.quit(), other.quit()]);
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
