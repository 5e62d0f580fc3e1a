import type { Cluster, Redis } from 'ioredis';
import type { RedisNodeAddress } from './config';
import { withDeadline } from './store';
import {
  byAddress,
  formatSlotRange,
  groupShards,
  locateKey,
  mapSlots,
  ownMigrations,
  parseClusterNodes,
  uniqueMigrations,
  type ClusterNodeInfo,
  type KeyLocation,
  type NodeRef,
  type Shard,
  type SlotMap,
  type SlotMigration,
} from './topology';

export interface NodeStats extends ClusterNodeInfo {
  /** False when this app has no live connection to the node. */
  reachable: boolean;
  keys: number | undefined;
  memory: string | undefined;
}

/** A shard in /api/cluster: who serves which slots, by id and address (the nodes' details are in `nodes`). */
export interface ShardSummary {
  master: NodeRef;
  replicas: NodeRef[];
  slots: string[];
  slotCount: number;
}

export interface ClusterOverview {
  state: string;
  slotsAssigned: number;
  knownNodes: number;
  nodes: NodeStats[];
  shards: ShardSummary[];
  /** Slots being moved right now, as the masters at both ends report them. */
  migrations: SlotMigration[];
}

/** What the pages show about the cluster itself; unit tests pass a fake. */
export interface ClusterView {
  locate(key: string): Promise<KeyLocation>;
  /** Who owns which slots, from the same cached read as locate(): for drawing a key on the slot map. */
  shards(): Promise<Shard[]>;
  overview(): Promise<ClusterOverview>;
}

export type ViewClient = Pick<Cluster, 'cluster' | 'nodes'>;

interface Topology {
  nodes: ClusterNodeInfo[];
  slots: SlotMap;
  shards: Shard[];
}

/** The topology changes rarely; one CLUSTER NODES a second is plenty for every request. */
const TOPOLOGY_TTL_MS = 1000;
const NODE_STATS_DEADLINE_MS = 1000;

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

const nodeRef = ({ id, address }: NodeRef): NodeRef => ({ id, address });

/** The nodes grouped into shards, by reference: the details stay in `nodes`. */
export const summarizeShards = (nodes: readonly ClusterNodeInfo[]): ShardSummary[] =>
  groupShards(nodes).shards.map((shard) => ({
    master: nodeRef(shard.master),
    replicas: shard.replicas.map(nodeRef),
    slots: shard.ranges.map(formatSlotRange),
    slotCount: shard.slotCount,
  }));

export interface ClusterViewOptions {
  deadlineMs: number;
  natMap?: Record<string, RedisNodeAddress> | undefined;
  /** A one-off connection to a node the client keeps none to (ioredis may skip replicas). */
  openConnection: (address: RedisNodeAddress) => Redis;
}

export function createClusterView(client: ViewClient, options: ClusterViewOptions) {
  let cached: { at: number; topology: Promise<Topology> } | undefined;

  const fetchTopology = (): Promise<ClusterNodeInfo[]> =>
    withDeadline(options.deadlineMs, async () => parseClusterNodes((await client.cluster('NODES')) as string));

  const topology = (): Promise<Topology> => {
    if (!cached || Date.now() - cached.at > TOPOLOGY_TTL_MS) {
      const read = fetchTopology().then((nodes) => ({ nodes, slots: mapSlots(nodes), shards: groupShards(nodes).shards }));
      cached = { at: Date.now(), topology: read };
      // A failed read is not kept; a newer one that replaced it meanwhile is.
      read.catch(() => {
        if (cached?.topology === read) cached = undefined;
      });
    }
    return cached.topology;
  };

  /** Where this process reaches a node that the cluster announces at `address`. */
  const reachableAt = (address: string): RedisNodeAddress => {
    const mapped = options.natMap?.[address];
    if (mapped) return mapped;
    const colon = address.lastIndexOf(':');
    return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  };

  /** The client's own connection to a node, if it keeps one. */
  const connectionTo = (address: string): Redis | undefined => {
    const { host, port } = reachableAt(address);
    return client.nodes('all').find((node) => node.options.host === host && node.options.port === port);
  };

  const stats = async (node: ClusterNodeInfo): Promise<NodeStats> => {
    const unreachable = { ...node, reachable: false, keys: undefined, memory: undefined };
    if (node.failed) return unreachable;
    const pooled = connectionTo(node.address);
    const connection = pooled ?? options.openConnection(reachableAt(node.address));
    // A master prints its open slots only on its own line, so each master is
    // asked itself; the read rides along with the counts, costing no extra wait.
    const ownView = async () => (node.role === 'master' ? ownMigrations((await connection.cluster('NODES')) as string) : []);
    try {
      const [keys, memory, migrations] = await withDeadline(NODE_STATS_DEADLINE_MS, () =>
        Promise.all([connection.dbsize(), connection.info('memory'), ownView()]),
      );
      return { ...node, reachable: true, keys, memory: infoField(memory, 'used_memory_human'), migrations };
    } catch {
      return unreachable;
    } finally {
      if (!pooled) connection.disconnect();
    }
  };

  const view: ClusterView = {
    locate: async (key) => locateKey((await topology()).slots, key),
    shards: async () => (await topology()).shards,
    overview: async () => {
      const [nodes, info] = await Promise.all([
        fetchTopology(),
        withDeadline(options.deadlineMs, async () => await client.cluster('INFO')),
      ]);
      const withStats = await Promise.all(nodes.sort(byAddress).map(stats));
      return {
        state: infoField(info, 'cluster_state') ?? 'unknown',
        slotsAssigned: Number(infoField(info, 'cluster_slots_assigned') ?? 0),
        knownNodes: Number(infoField(info, 'cluster_known_nodes') ?? 0),
        nodes: withStats,
        shards: summarizeShards(withStats),
        migrations: uniqueMigrations(withStats),
      };
    },
  };

  /** Live masters in address order, for the store's SCAN across the cluster. */
  const masterConnections = async () =>
    (await topology()).nodes
      .filter((node) => node.role === 'master' && !node.failed && node.slots.length > 0)
      .sort(byAddress)
      .map((node) => connectionTo(node.address))
      .filter((connection): connection is Redis => connection !== undefined);

  return { view, masterConnections };
}
