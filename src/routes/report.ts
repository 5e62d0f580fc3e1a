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

/** Value, TTL and location fetched together; the location comes from the cached topology. */
export async function readKeyReport(store: KeyValueStore, view: ClusterView, key: string): Promise<KeyReport> {
  const [stored, location] = await Promise.all([store.read(key), view.locate(key)]);
  return { key, value: stored?.value ?? null, ttl: stored?.ttl, ...location };
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
