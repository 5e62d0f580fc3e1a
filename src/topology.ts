import calculateSlot from 'cluster-key-slot';

export const SLOT_COUNT = 16384;

export interface NodeRef {
  id: string;
  address: string;
}

/** One slot on its way from one master to another (redis-cli moves them one at a time). */
export interface SlotMigration {
  slot: number;
  /** Node ids: the master giving the slot up and the one taking it. */
  from: string;
  to: string;
}

export interface ClusterNodeInfo extends NodeRef {
  role: 'master' | 'replica';
  masterId: string | undefined;
  failed: boolean;
  linkState: string;
  /** Slot ranges as Redis prints them: "0-5460", "7000". */
  slots: string[];
  /**
   * Slots this node is migrating or importing. A node prints these on its own
   * line only, so a single CLUSTER NODES read shows just the reader's.
   */
  migrations: SlotMigration[];
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
      const open = slots.filter((range) => range.startsWith('['));
      return {
        id,
        address: address.split('@')[0] ?? address,
        role: flagList.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        failed: flagList.includes('fail') || flagList.includes('noaddr'),
        linkState,
        // "[slot->-id]" entries are migrations in progress, not ownership: until
        // the move ends the slot stays with the master that lists it as a range.
        slots: slots.filter((range) => !range.startsWith('[')),
        migrations: open.map((entry) => parseMigration(id, entry)).filter((move) => move !== undefined),
      } satisfies ClusterNodeInfo;
    });
}

/** "[5461->-<id>]": this node is giving the slot to <id>; "[5461-<-<id>]": it is taking it from <id>. */
function parseMigration(nodeId: string, entry: string): SlotMigration | undefined {
  const match = /^\[(\d+)-([<>])-([^\]]+)\]$/.exec(entry);
  if (!match) return undefined;
  const [, slot = '', arrow, peer = ''] = match;
  return arrow === '>' ? { slot: Number(slot), from: nodeId, to: peer } : { slot: Number(slot), from: peer, to: nodeId };
}

/** The migrations a node reports about itself: the "myself" line of its own CLUSTER NODES. */
export function ownMigrations(text: string): SlotMigration[] {
  const own = text.split('\n').find((line) => line.split(' ')[2]?.split(',').includes('myself'));
  return own ? (parseClusterNodes(own)[0]?.migrations ?? []) : [];
}

/** Both ends of a move report it; one entry each, in slot order. */
export function uniqueMigrations(nodes: readonly Pick<ClusterNodeInfo, 'migrations'>[]): SlotMigration[] {
  const seen = new Map<string, SlotMigration>();
  for (const move of nodes.flatMap((node) => node.migrations)) seen.set(`${move.slot} ${move.from} ${move.to}`, move);
  return [...seen.values()].sort((a, b) => a.slot - b.slot || a.from.localeCompare(b.from));
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

/** A run of slots, both ends included. */
export interface SlotRange {
  start: number;
  end: number;
}

/** "0-5460" or "7000" as CLUSTER NODES prints them; undefined for anything else. */
export function parseSlotRange(text: string): SlotRange | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2] ?? match[1]);
  return start <= end && end < SLOT_COUNT ? { start, end } : undefined;
}

export const formatSlotRange = ({ start, end }: SlotRange): string => (start === end ? String(start) : `${start}-${end}`);

/** A master, the replicas that copy it, and the slots it serves: the unit the cluster grows and shrinks by. */
export interface Shard<N extends ClusterNodeInfo = ClusterNodeInfo> {
  master: N;
  replicas: N[];
  /** In slot order; adjacent ranges joined. */
  ranges: SlotRange[];
  slotCount: number;
}

export interface ShardGroups<N extends ClusterNodeInfo> {
  /** Masters with slots in order of their first slot, then empty masters (a new one, a failed one) by address. */
  shards: Shard<N>[];
  /** Replicas whose master this topology does not list, e.g. mid-join. */
  unattached: N[];
}

/** "10.0.0.9:6379" before "10.0.0.11:6379": the order people read addresses in. */
export const byAddress = (a: NodeRef, b: NodeRef): number => a.address.localeCompare(b.address, 'en', { numeric: true });

function ownedRanges(node: ClusterNodeInfo): SlotRange[] {
  const ranges = node.slots
    .map(parseSlotRange)
    .filter((range) => range !== undefined)
    .sort((a, b) => a.start - b.start);
  const joined: SlotRange[] = [];
  for (const range of ranges) {
    const last = joined.at(-1);
    if (last && range.start <= last.end + 1) last.end = Math.max(last.end, range.end);
    else joined.push({ ...range });
  }
  return joined;
}

export function groupShards<N extends ClusterNodeInfo>(nodes: readonly N[]): ShardGroups<N> {
  const masters = nodes.filter((node) => node.role === 'master');
  const shards = masters.map((master): Shard<N> => {
    const ranges = ownedRanges(master);
    return {
      master,
      replicas: nodes.filter((node) => node.role === 'replica' && node.masterId === master.id).sort(byAddress),
      ranges,
      slotCount: ranges.reduce((sum, { start, end }) => sum + end - start + 1, 0),
    };
  });
  const firstSlot = (shard: Shard<N>) => shard.ranges[0]?.start ?? SLOT_COUNT;
  shards.sort((a, b) => firstSlot(a) - firstSlot(b) || byAddress(a.master, b.master));
  const masterIds = new Set(masters.map((master) => master.id));
  const unattached = nodes.filter((node) => node.role === 'replica' && !masterIds.has(node.masterId ?? '')).sort(byAddress);
  return { shards, unattached };
}

export function mapSlots(nodes: ClusterNodeInfo[]): SlotMap {
  const owners: (SlotOwner | undefined)[] = new Array<SlotOwner | undefined>(SLOT_COUNT).fill(undefined);
  for (const master of nodes) {
    if (master.role !== 'master' || master.failed) continue;
    const owner: SlotOwner = Object.freeze({
      master: ref(master),
      replicas: Object.freeze(nodes.filter((node) => node.masterId === master.id && !node.failed).map(ref)),
    });
    for (const { start, end } of ownedRanges(master)) owners.fill(owner, start, end + 1);
  }
  return owners;
}

export function locateKey(slots: SlotMap, key: string): KeyLocation {
  const slot = calculateSlot(key);
  const owner = slots[slot];
  return { slot, hashTag: hashTagOf(key), master: owner?.master, replicas: owner?.replicas ?? [] };
}
