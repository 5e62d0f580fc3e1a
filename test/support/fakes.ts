import calculateSlot from 'cluster-key-slot';
import type { ClusterOverview, ClusterView } from '../../src/cluster-view';
import { loadConfig } from '../../src/config';
import type { Logger } from '../../src/logger';
import type { KeyValueStore, ScanPage, StoredValue } from '../../src/store';
import { hashTagOf, type KeyLocation } from '../../src/topology';

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

/** A fixed three-master topology: slots split as redis-cli --cluster create splits them. */
export class FakeClusterView implements ClusterView {
  fail: Error | undefined;

  async locate(key: string): Promise<KeyLocation> {
    if (this.fail) throw this.fail;
    const slot = calculateSlot(key);
    const shard = slot <= 5460 ? 1 : slot <= 10922 ? 2 : 3;
    return {
      slot,
      hashTag: hashTagOf(key),
      master: { id: `master-${shard}`, address: `10.0.0.1${shard}:6379` },
      replicas: [{ id: `replica-${shard}`, address: `10.0.0.1${shard + 3}:6379` }],
    };
  }

  async overview(): Promise<ClusterOverview> {
    if (this.fail) throw this.fail;
    return {
      state: 'ok',
      slotsAssigned: 16384,
      knownNodes: 2,
      nodes: [
        {
          id: 'master-1',
          address: '10.0.0.11:6379',
          role: 'master',
          masterId: undefined,
          failed: false,
          linkState: 'connected',
          slots: ['0-16383'],
          reachable: true,
          keys: 3,
          memory: '1.2M',
        },
        {
          id: 'replica-1',
          address: '10.0.0.14:6379',
          role: 'replica',
          masterId: 'master-1',
          failed: true,
          linkState: 'disconnected',
          slots: [],
          reachable: false,
          keys: undefined,
          memory: undefined,
        },
      ],
    };
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export const testConfig = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'test', ...env });

/** For supertest's serialize(): send bytes as they are, not superagent's JSON of a Buffer. */
export const asIs = (raw: unknown): string => raw as string;
