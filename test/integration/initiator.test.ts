import { spawnSync } from 'node:child_process';
import path from 'node:path';
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { connectCluster, connectNode, nodesForKey } from '../support/cluster-client';
import { SHARED_CLUSTER, runClusterScript, startFresh, testCluster } from '../support/native-cluster';

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

// A cluster of its own: the repair hands a slot to another master.
describe('redis/cluster-init.sh on a cluster with keys left behind', () => {
  const orphans = testCluster(8000);
  const initOrphans = () => runInitiator({ REDIS_NODES: orphans.nodes.map((n) => `${n.host}:${n.port}`).join(' ') });
  let client: Cluster;
  beforeAll(async () => {
    startFresh(orphans);
    client = await connectCluster(orphans);
  });
  afterAll(async () => {
    await client.quit();
    runClusterScript(orphans, 'clean', 30_000);
  });

  /**
   * Leaves `key` behind on a master that does not own its slot, as a node
   * does when it loads keys of a slot it no longer owns: the slot opens as
   * importing there. Returns that master's port and a connection to it.
   */
  async function leaveBehind(key: string, value: string) {
    const slot = calculateSlot(key);
    const { master } = await nodesForKey(client, key);
    const masters = String(await client.cluster('NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter(([, , flags]) => flags!.includes('master'));
    const port = (address: string) => Number(/:(\d+)@/.exec(address)![1]);
    const ownerId = masters.find(([, address]) => port(address!) === master)![0]!;
    const otherPort = port(masters.find(([id]) => id !== ownerId)![1]!);
    const other = connectNode(otherPort);
    await other.cluster('SETSLOT', slot, 'IMPORTING', ownerId);
    await other.pipeline().call('ASKING').set(key, value).exec();
    return { slot, owner: master, other };
  }

  /** The key's value on one node, whether or not it serves the slot. */
  const valueOn = async (node: Redis, key: string) => (await node.pipeline().call('ASKING').get(key).exec())![1]![1];

  /** Whether the node still has the slot open (importing), as CLUSTER NODES shows on its own line. */
  const stillOpen = async (node: Redis, slot: number) =>
    String(await node.cluster('NODES'))
      .split('\n')
      .some((line) => line.includes('myself') && line.includes(`[${slot}-<-`));

  it('deletes the keys a node holds of a slot it does not own and closes the slot; the owner keeps it', async () => {
    const key = `initiator:orphan "quoted" \\ ${Date.now()}`;
    const { slot, owner, other } = await leaveBehind(key, 'left behind');
    try {
      const result = initOrphans();
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`holds 1 key(s) of slot ${slot}`);
      expect(await other.cluster('COUNTKEYSINSLOT', slot)).toBe(0);
      expect(await stillOpen(other, slot)).toBe(false);
      expect((await nodesForKey(client, key)).master).toBe(owner);
      // Never on the owner, so never seen by a client: gone, as clients saw it.
      expect(await client.get(key)).toBeNull();
    } finally {
      await other.quit();
    }
  });

  it("keeps the owner's copy when the key left behind is also on the owner", async () => {
    const key = `initiator:twice:${Date.now()}`;
    await client.set(key, 'current');
    const { slot, owner, other } = await leaveBehind(key, 'stale');
    const ownerNode = connectNode(owner);
    try {
      const result = initOrphans();
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`holds 1 key(s) of slot ${slot}`);
      expect(await valueOn(ownerNode, key)).toBe('current');
      expect(await other.cluster('COUNTKEYSINSLOT', slot)).toBe(0);
      expect(await stillOpen(other, slot)).toBe(false);
      expect(await client.get(key)).toBe('current');
    } finally {
      await Promise.all([ownerNode.quit(), other.quit()]);
    }
  });
});
