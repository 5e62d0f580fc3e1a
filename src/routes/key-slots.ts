import calculateSlot from 'cluster-key-slot';
import type { ClusterView } from '../cluster-view';
import { hashTagOf } from '../topology';

export interface KeySlot {
  key: string;
  slot: number;
  hashTag: string | undefined;
  /** The master's address, or undefined when the topology cannot be read right now. */
  master: string | undefined;
}

/**
 * Where a workload's keys live, for its page. The slot is computed here, so
 * it shows even while the cluster does not answer; the master comes from the
 * view's cached topology when it can be read.
 */
export async function keySlots(view: ClusterView, keys: string[]): Promise<{ keys: KeySlot[]; sameSlot: boolean }> {
  const located = await Promise.all(
    keys.map(async (key) => ({
      key,
      slot: calculateSlot(key),
      hashTag: hashTagOf(key),
      master: await view.locate(key).then(
        (where) => where.master?.address,
        () => undefined,
      ),
    })),
  );
  return { keys: located, sameSlot: located.every(({ slot }) => slot === located[0]?.slot) };
}
