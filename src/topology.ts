import calculateSlot from 'cluster-key-slot';

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
  master: NodeRef | undefined;
  replicas: NodeRef[];
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

function ownsSlot(node: ClusterNodeInfo, slot: number): boolean {
  return node.slots.some((range) => {
    const [start, end] = range.split('-').map(Number);
    return start !== undefined && slot >= start && slot <= (end ?? start);
  });
}

const ref = ({ id, address }: NodeRef): NodeRef => ({ id, address });

export function locateKey(nodes: ClusterNodeInfo[], key: string): KeyLocation {
  const slot = calculateSlot(key);
  const master = nodes.find((node) => node.role === 'master' && !node.failed && ownsSlot(node, slot));
  const replicas = master ? nodes.filter((node) => node.masterId === master.id && !node.failed).map(ref) : [];
  return { slot, hashTag: hashTagOf(key), master: master && ref(master), replicas };
}
