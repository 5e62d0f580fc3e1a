import calculateSlot from 'cluster-key-slot';
import { summarizeShards, type ClusterOverview, type ClusterView, type NodeStats } from '../../src/cluster-view';
import { loadConfig } from '../../src/config';
import type { Logger } from '../../src/logger';
import type { KeyValueStore, ScanPage, StoredValue } from '../../src/store';
import { groupShards, hashTagOf, type KeyLocation, type Shard, type SlotMigration } from '../../src/topology';

/** An in-memory store for unit tests; `fail` makes every call reject with that error. */
export class FakeStore implements KeyValueStore {
  readonly data = new Map<string, StoredValue>();
  fail: Error | undefined;

  private check(): void {
    if (this.fail) throw this.fail;
  }

  async read(key: string): Promise<StoredValue | null> {
    this.check();
    return this.data.get(key) ?? null;
  }

  async set(key: string, value: string, ttl?: number): Promise<void> {
    this.check();
    this.data.set(key, { value, ttl });
  }

  async del(key: string): Promise<boolean> {
    this.check();
    return this.data.delete(key);
  }

  async scan({ match, count, cursor }: { match: string; count: number; cursor: string }): Promise<ScanPage> {
    this.check();
    const pattern = new RegExp(
      `^${match
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    const keys = [...this.data.keys()].filter((key) => pattern.test(key)).sort();
    const start = Number(cursor);
    const next = start + count;
    return { keys: keys.slice(start, next), cursor: next >= keys.length ? '0' : String(next) };
  }

  async ping(): Promise<void> {
    this.check();
  }
}

/** A node of the fake topology: reachable, connected and idle unless told otherwise. */
export const fakeNode = (node: Pick<NodeStats, 'id' | 'address' | 'role'> & Partial<NodeStats>): NodeStats => ({
  masterId: undefined,
  failed: false,
  linkState: 'connected',
  slots: [],
  migrations: [],
  reachable: true,
  keys: 0,
  memory: '1.1M',
  ...node,
});

/**
 * Three masters with the slots redis-cli --cluster create gives them, each
 * with a replica; the first has a second replica, which has failed. Tests
 * edit `nodes` and `migrations` to show another cluster: every method reads them.
 */
export class FakeClusterView implements ClusterView {
  fail: Error | undefined;
  nodes: NodeStats[] = [
    fakeNode({ id: 'master-1', address: '10.0.0.11:6379', role: 'master', slots: ['0-5460'], keys: 3, memory: '1.2M' }),
    fakeNode({ id: 'master-2', address: '10.0.0.12:6379', role: 'master', slots: ['5461-10922'], keys: 4 }),
    fakeNode({ id: 'master-3', address: '10.0.0.13:6379', role: 'master', slots: ['10923-16383'], keys: 5 }),
    fakeNode({ id: 'replica-1', address: '10.0.0.14:6379', role: 'replica', masterId: 'master-1', keys: 3 }),
    fakeNode({
      id: 'replica-4',
      address: '10.0.0.17:6379',
      role: 'replica',
      masterId: 'master-1',
      failed: true,
      linkState: 'disconnected',
      reachable: false,
      keys: undefined,
      memory: undefined,
    }),
    fakeNode({ id: 'replica-2', address: '10.0.0.15:6379', role: 'replica', masterId: 'master-2', keys: 4 }),
    fakeNode({ id: 'replica-3', address: '10.0.0.16:6379', role: 'replica', masterId: 'master-3', keys: 5 }),
  ];
  migrations: SlotMigration[] = [];

  private check(): void {
    if (this.fail) throw this.fail;
  }

  async locate(key: string): Promise<KeyLocation> {
    this.check();
    const slot = calculateSlot(key);
    const shard = groupShards(this.nodes).shards.find(({ ranges }) => ranges.some(({ start, end }) => slot >= start && slot <= end));
    const ref = ({ id, address }: NodeStats) => ({ id, address });
    return {
      slot,
      hashTag: hashTagOf(key),
      master: shard && ref(shard.master),
      replicas: shard?.replicas.filter((replica) => !replica.failed).map(ref) ?? [],
    };
  }

  async shards(): Promise<Shard[]> {
    this.check();
    return groupShards(this.nodes).shards;
  }

  async overview(): Promise<ClusterOverview> {
    this.check();
    return {
      state: 'ok',
      slotsAssigned: 16384,
      knownNodes: this.nodes.length,
      nodes: this.nodes,
      shards: summarizeShards(this.nodes),
      migrations: this.migrations,
    };
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A fixed session secret, so a test may ask for NODE_ENV=production, where one is required. */
export const TEST_SESSION_SECRET = 'a-session-secret-for-tests-only-0123456789';

export const testConfig = (env: Record<string, string> = {}) =>
  loadConfig({ NODE_ENV: 'test', SESSION_SECRET: TEST_SESSION_SECRET, ...env });

/** For supertest's serialize(): send bytes as they are, not superagent's JSON of a Buffer. */
export const asIs = (raw: unknown): string => raw as string;
