import calculateSlot from 'cluster-key-slot';

export const SLOT_COUNT = 16384;

export interface NodeRef {
  id: string;
  address: string;
}

export interface ClusterNodeInfo extends NodeRef {
  role: 'master' | 'replica';
  masterId: string | undefined;
  failed: boolean;
  linkState: string;
  /** Slot ranges as Redis prints them: "0-5460", "7000". */
  slots: string[];
}

export interface KeyLocation {
  slot: number;
  /** The part between the first "{" and the next "}", if any: only it is hashed. */
  hashTag: string | undefined;
  master: Readonly<NodeRef> | undefined;
  replicas: readonly Readonly<NodeRef>[];
}

/** Parses CLUSTER NODES: "<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...". */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , linkState = '', ...slots] = line.split(' ');
      const flagList = flags.split(',');
      return {
        id,
        address: address.split('@')[0] ?? address,
        role: flagList.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        failed: flagList.includes('fail') || flagList.includes('noaddr'),
        linkState,
        // "[slot->-id]" entries are migrations in progress, not ownership.
        slots: slots.filter((range) => !range.startsWith('[')),
      } satisfies ClusterNodeInfo;
    });
}

export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open === -1) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The master serving a slot and its live replicas; shared by every key in its slots, so frozen. */
export interface SlotOwner {
  readonly master: Readonly<NodeRef>;
  readonly replicas: readonly Readonly<NodeRef>[];
}

/** Every slot's owner, indexed once per topology read: a key's lookup is then one array access. */
export type SlotMap = readonly (SlotOwner | undefined)[];

const ref = ({ id, address }: NodeRef): Readonly<NodeRef> => Object.freeze({ id, address });

export function mapSlots(nodes: ClusterNodeInfo[]): SlotMap {
  const owners: (SlotOwner | undefined)[] = new Array<SlotOwner | undefined>(SLOT_COUNT).fill(undefined);
  for (const master of nodes) {
    if (master.role !== 'master' || master.failed) continue;
    const owner: SlotOwner = Object.freeze({
      master: ref(master),
      replicas: Object.freeze(nodes.filter((node) => node.masterId === master.id && !node.failed).map(ref)),
    });
    for (const range of master.slots) {
      const [start = NaN, end = start] = range.split('-').map(Number);
      for (let slot = start; slot <= end && slot < SLOT_COUNT; slot += 1) owners[slot] = owner;
    }
  }
  return owners;
}

export function locateKey(slots: SlotMap, key: string): KeyLocation {
  const slot = calculateSlot(key);
  const owner = slots[slot];
  return { slot, hashTag: hashTagOf(key), master: owner?.master, replicas: owner?.replicas ?? [] };
}
