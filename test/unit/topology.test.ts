import calculateSlot from 'cluster-key-slot';
import {
  groupShards,
  hashTagOf,
  locateKey,
  mapSlots,
  ownMigrations,
  parseClusterNodes,
  parseSlotRange,
  uniqueMigrations,
} from '../../src/topology';

const NODES = `
07c3 10.0.0.11:6379@16379 myself,master - 0 0 1 connected 0-5460
67ed 10.0.0.12:6379@16379,node-2 master - 0 1 2 connected 5461-10922 [10923->-292f]
292f 10.0.0.13:6379@16379 master - 0 1 3 connected 10923-16383
e7d1 10.0.0.14:6379@16379 slave 07c3 0 1 1 connected
824f 10.0.0.15:6379@16379 slave,fail 67ed 0 1 2 disconnected
a1b2 10.0.0.16:6379@16379 slave 292f 0 1 3 connected
`;

describe('parseClusterNodes', () => {
  it('reads ids, addresses, roles, links and owned slots', () => {
    const nodes = parseClusterNodes(NODES);
    expect(nodes).toHaveLength(6);
    expect(nodes[1]).toEqual({
      id: '67ed',
      address: '10.0.0.12:6379',
      role: 'master',
      masterId: undefined,
      failed: false,
      linkState: 'connected',
      slots: ['5461-10922'],
      migrations: [{ slot: 10923, from: '67ed', to: '292f' }],
    });
    expect(nodes[4]).toMatchObject({ role: 'replica', masterId: '67ed', failed: true, linkState: 'disconnected', migrations: [] });
  });

  it('reads a slot being imported as a move towards the node that prints it', () => {
    const [node] = parseClusterNodes('292f 10.0.0.13:6379@16379 myself,master - 0 1 3 connected 10924-16383 [10923-<-67ed]');
    expect(node).toMatchObject({ slots: ['10924-16383'], migrations: [{ slot: 10923, from: '67ed', to: '292f' }] });
  });
});

describe('ownMigrations', () => {
  it("keeps only the moves on the reading node's own line", () => {
    const text = `
67ed 10.0.0.12:6379@16379 master - 0 1 2 connected 5461-10922 [7000->-07c3]
292f 10.0.0.13:6379@16379 myself,master - 0 1 3 connected 10924-16383 [10923-<-67ed]
`;
    expect(ownMigrations(text)).toEqual([{ slot: 10923, from: '67ed', to: '292f' }]);
    expect(ownMigrations(text.replace('myself,', ''))).toEqual([]);
  });
});

describe('uniqueMigrations', () => {
  it('reports a move once when both of its ends list it, in slot order', () => {
    const source = { migrations: [{ slot: 9, from: 'a', to: 'b' }] };
    const target = {
      migrations: [
        { slot: 9, from: 'a', to: 'b' },
        { slot: 3, from: 'c', to: 'b' },
      ],
    };
    expect(uniqueMigrations([source, target])).toEqual([
      { slot: 3, from: 'c', to: 'b' },
      { slot: 9, from: 'a', to: 'b' },
    ]);
  });
});

describe('parseSlotRange', () => {
  it.each([
    ['0-5460', { start: 0, end: 5460 }],
    ['16383', { start: 16383, end: 16383 }],
    ['5-4', undefined],
    ['0-16384', undefined],
    ['[1->-ab]', undefined],
  ])('%s -> %o', (text, range) => {
    expect(parseSlotRange(text)).toEqual(range);
  });
});

describe('groupShards', () => {
  // After redis-cli --cluster rebalance gave a fourth master a quarter of each
  // old master's slots; 7006 has no slots yet, and 7009's master is unknown.
  const REBALANCED = `
a000 127.0.0.1:7000@17000 master - 0 0 1 connected 1365-5460
b000 127.0.0.1:7001@17001 master - 0 0 2 connected 6827-10922
c000 127.0.0.1:7002@17002 master - 0 0 3 connected 12288-16383
d000 127.0.0.1:7010@17010 master - 0 0 7 connected 10923-12287 0-1364 5461-6826
e000 127.0.0.1:7006@17006 master - 0 0 0 connected
a001 127.0.0.1:7004@17004 slave a000 0 0 1 connected
d001 127.0.0.1:7011@17011 slave d000 0 0 7 connected
d002 127.0.0.1:7008@17008 slave d000 0 0 7 connected
f001 127.0.0.1:7009@17009 slave ffff 0 0 0 connected
`;
  const { shards, unattached } = groupShards(parseClusterNodes(REBALANCED));

  it('orders shards by their first slot, with masters that have none last', () => {
    expect(shards.map(({ master }) => master.address)).toEqual([
      '127.0.0.1:7010',
      '127.0.0.1:7000',
      '127.0.0.1:7001',
      '127.0.0.1:7002',
      '127.0.0.1:7006',
    ]);
  });

  it("sorts a shard's ranges and counts its slots", () => {
    expect(shards[0]).toMatchObject({
      ranges: [
        { start: 0, end: 1364 },
        { start: 5461, end: 6826 },
        { start: 10923, end: 12287 },
      ],
      slotCount: 4096,
    });
    expect(shards.reduce((sum, shard) => sum + shard.slotCount, 0)).toBe(16384);
    expect(shards[4]).toMatchObject({ ranges: [], slotCount: 0, replicas: [] });
  });

  it('puts each replica with its master, in address order', () => {
    expect(shards[0]!.replicas.map(({ address }) => address)).toEqual(['127.0.0.1:7008', '127.0.0.1:7011']);
    expect(shards[1]!.replicas.map(({ id }) => id)).toEqual(['a001']);
  });

  it('keeps a replica whose master is not listed apart', () => {
    expect(unattached.map(({ id }) => id)).toEqual(['f001']);
  });

  it('joins ranges that touch, as one run of slots', () => {
    const [shard] = groupShards(parseClusterNodes('a000 127.0.0.1:7000@17000 master - 0 0 1 connected 100-199 0-99 200')).shards;
    expect(shard).toMatchObject({ ranges: [{ start: 0, end: 200 }], slotCount: 201 });
  });
});

describe('locateKey', () => {
  const nodes = parseClusterNodes(NODES);
  const slots = mapSlots(nodes);

  it('finds the master owning the slot and its live replicas', () => {
    const key = 'user:1';
    const location = locateKey(slots, key);
    expect(location.slot).toBe(calculateSlot(key));
    const owner = nodes.find(
      (n) =>
        n.role === 'master' &&
        n.slots.some((r) => {
          const [a, b] = r.split('-').map(Number);
          return location.slot >= a! && location.slot <= b!;
        }),
    )!;
    expect(location.master).toEqual({ id: owner.id, address: owner.address });
    expect(location.replicas.every((r) => nodes.find((n) => n.id === r.id)?.masterId === owner.id)).toBe(true);
  });

  it('leaves out a failed replica', () => {
    const key = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => {
      const slot = calculateSlot(k);
      return slot >= 5461 && slot <= 10922;
    })!;
    expect(locateKey(slots, key).replicas).toEqual([]);
  });

  it('knows no master for the slots of a failed master, and a single-slot range', () => {
    const failed = mapSlots(
      parseClusterNodes(`
07c3 10.0.0.11:6379@16379 master,fail - 0 0 1 disconnected 0-5460
e7d1 10.0.0.14:6379@16379 master - 0 1 4 connected 5461-16382 16383
`),
    );
    const inFailedRange = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => calculateSlot(k) <= 5460)!;
    expect(locateKey(failed, inFailedRange)).toMatchObject({ master: undefined, replicas: [] });
    expect(failed[16383]?.master.id).toBe('e7d1');
  });

  it('puts keys with the same hash tag in the same slot', () => {
    expect(locateKey(slots, '{user1}:a').slot).toBe(locateKey(slots, '{user1}:b').slot);
    expect(locateKey(slots, '{user1}:a').hashTag).toBe('user1');
  });
});

describe('hashTagOf', () => {
  it.each([
    ['{user1}:a', 'user1'],
    ['a{b}{c}', 'b'],
    ['{}x', undefined],
    ['no-tag', undefined],
    ['open{only', undefined],
  ])('%s -> %s', (key, tag) => {
    expect(hashTagOf(key)).toBe(tag);
  });
});
