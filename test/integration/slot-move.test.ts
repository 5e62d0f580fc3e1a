import calculateSlot from 'cluster-key-slot';
import { createRedisServices } from '../../src/redis';
import { connectCluster, connectNode } from '../support/cluster-client';
import { testConfig } from '../support/fakes';
import { testCluster, runClusterScript, startFresh } from '../support/native-cluster';

// A cluster of its own: this test hands a slot to another master.
const cluster = testCluster(7900);

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
});

/** Two keys of the first master (slots 0-5460 after cluster create), in different slots. */
function twoKeysOfFirstMaster(): [string, string] {
  const keys = Array.from({ length: 100 }, (_, i) => `slot-move:${i}`).filter((key) => calculateSlot(key) <= 5460);
  const other = keys.find((key) => calculateSlot(key) !== calculateSlot(keys[0]!));
  return [keys[0]!, other!];
}

describe('a slot handed to another master while the app still has the old slot map', () => {
  // ioredis follows MOVED for a lone command, but an auto-pipelined batch whose
  // commands got different answers hands each command its bare error
  // (ioredis issue #2075). The store follows such a MOVED itself.
  it('still answers a read of that slot sent in one batch with a write to another slot of the old master', async () => {
    startFresh(cluster);
    const config = testConfig(cluster.env);
    const client = await connectCluster(cluster);
    const masters = [0, 1, 2].map((i) => connectNode(cluster.basePort + i));
    try {
      const { store } = createRedisServices(client, config.redis);
      const [moving, staying] = twoKeysOfFirstMaster();
      await store.read(moving);

      // An empty slot changes hands with SETSLOT NODE on the new owner, the old one, then the rest.
      const newOwner = String(await masters[1]!.cluster('MYID'));
      for (const master of [masters[1]!, masters[0]!, masters[2]!]) {
        await master.cluster('SETSLOT', calculateSlot(moving), 'NODE', newOwner);
      }

      const [read, write] = await Promise.allSettled([store.read(moving), store.set(staying, 'written')]);
      expect(read).toEqual({ status: 'fulfilled', value: null });
      expect(write.status).toBe('fulfilled');
      expect(await masters[0]!.get(staying)).toBe('written');
    } finally {
      await Promise.all([client.quit(), ...masters.map((master) => master.quit())]);
    }
  });
});
