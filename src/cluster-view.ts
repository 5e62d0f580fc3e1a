import type { Cluster, Redis } from 'ioredis';
import type { RedisNodeAddress } from './config';
import { withDeadline } from './store';
import { locateKey, mapSlots, parseClusterNodes, type ClusterNodeInfo, type KeyLocation, type SlotMap } from './topology';

export interface NodeStats extends ClusterNodeInfo {
  /** False when this app has no live connection to the node. */
  reachable: boolean;
  keys: number | undefined;
  memory: string | undefined;
}

export interface ClusterOverview {
  state: string;
  slotsAssigned: number;
  knownNodes: number;
  nodes: NodeStats[];
}

/** What the pages show about the cluster itself; unit tests pass a fake. */
export interface ClusterView {
  locate(key: string): Promise<KeyLocation>;
  overview(): Promise<ClusterOverview>;
}

export type ViewClient = Pick<Cluster, 'cluster' | 'nodes'>;

interface Topology {
  nodes: ClusterNodeInfo[];
  slots: SlotMap;
}

/** The topology changes rarely; one CLUSTER NODES a second is plenty for every request. */
const TOPOLOGY_TTL_MS = 1000;
const NODE_STATS_DEADLINE_MS = 1000;

/** "10.0.0.9:6379" before "10.0.0.11:6379": the order people read addresses in. */
const byAddress = (a: ClusterNodeInfo, b: ClusterNodeInfo): number => a.address.localeCompare(b.address, 'en', { numeric: true });

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

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
      const read = fetchTopology().then((nodes) => ({ nodes, slots: mapSlots(nodes) }));
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
    try {
      const [keys, memory] = await withDeadline(NODE_STATS_DEADLINE_MS, () =>
        Promise.all([connection.dbsize(), connection.info('memory')]),
      );
      return { ...node, reachable: true, keys, memory: infoField(memory, 'used_memory_human') };
    } catch {
      return unreachable;
    } finally {
      if (!pooled) connection.disconnect();
    }
  };

  const view: ClusterView = {
    locate: async (key) => locateKey((await topology()).slots, key),
    overview: async () => {
      const [nodes, info] = await Promise.all([
        fetchTopology(),
        withDeadline(options.deadlineMs, async () => await client.cluster('INFO')),
      ]);
      return {
        state: infoField(info, 'cluster_state') ?? 'unknown',
        slotsAssigned: Number(infoField(info, 'cluster_slots_assigned') ?? 0),
        knownNodes: Number(infoField(info, 'cluster_known_nodes') ?? 0),
        nodes: await Promise.all(nodes.sort(byAddress).map(stats)),
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
