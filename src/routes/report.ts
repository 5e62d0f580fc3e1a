import type { ClusterView } from '../cluster-view';
import type { KeyValueStore } from '../store';
import type { KeyLocation } from '../topology';

/** Everything the app tells about one key: its value, expiry and where it lives. */
export interface KeyReport extends KeyLocation {
  key: string;
  value: string | null;
  /** Seconds left; undefined when the key never expires or does not exist. */
  ttl: number | undefined;
}

const remaining = (ttl: number): number | undefined => (ttl >= 0 ? ttl : undefined);

/** Value, TTL and location fetched together; ioredis pipelines the two key commands. */
export async function readKeyReport(store: KeyValueStore, view: ClusterView, key: string): Promise<KeyReport> {
  const [value, ttl, location] = await Promise.all([store.get(key), store.ttl(key), view.locate(key)]);
  return { key, value, ttl: value === null ? undefined : remaining(ttl), ...location };
}

export async function writeKeyReport(
  store: KeyValueStore,
  view: ClusterView,
  key: string,
  value: string,
  ttl: number | undefined,
): Promise<KeyReport> {
  const [, location] = await Promise.all([store.set(key, value, ttl), view.locate(key)]);
  return { key, value, ttl, ...location };
}
