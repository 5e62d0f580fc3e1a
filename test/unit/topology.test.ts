import calculateSlot from 'cluster-key-slot';
import { hashTagOf, locateKey, mapSlots, parseClusterNodes } from '../../src/topology';

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
    });
    expect(nodes[4]).toMatchObject({ role: 'replica', masterId: '67ed', failed: true, linkState: 'disconnected' });
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
