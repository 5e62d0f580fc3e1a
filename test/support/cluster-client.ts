import { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { loadConfig, type RedisConfig } from '../../src/config';
import { clusterOptions } from '../../src/redis';
import type { NativeCluster } from './native-cluster';

/** A Cluster client configured exactly as the app configures its own. */
export async function connectCluster(cluster: NativeCluster, startupNodes = cluster.nodes.slice(0, 3)): Promise<Cluster> {
  return connectAs({ ...loadConfig({ ...cluster.env }).redis, nodes: startupNodes });
}

/** A Cluster client with the app's options for this configuration (user, TLS...), once it is ready. */
export async function connectAs(config: RedisConfig): Promise<Cluster> {
  const client = new Cluster(config.nodes, clusterOptions(config));
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('end', () => reject(new Error('cluster client ended before it was ready')));
  });
  return client;
}

/**
 * The master that owns the key's slot and its replicas, read from CLUSTER NODES:
 * CLUSTER SLOTS on Redis 7.0 leaves out a replica until it has replicated a byte.
 */
export async function nodesForKey(client: Cluster, key: string): Promise<{ master: number; replicas: number[] }> {
  const slot = calculateSlot(key);
  const lines = ((await client.cluster('NODES')) as string)
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  const port = (address: string) => Number(/:(\d+)@/.exec(address)?.[1]);
  const owns = (ranges: string[]) =>
    ranges.some((range) => {
      const [start, end] = range.split('-').map(Number);
      return slot >= start! && slot <= (end ?? start!);
    });
  const master = lines.find(([, , flags, , , , , , ...ranges]) => flags!.includes('master') && owns(ranges));
  if (!master) throw new Error(`no master owns slot ${slot}`);
  const replicas = lines.filter(([, , flags, masterId]) => flags!.includes('slave') && masterId === master[0]);
  return { master: port(master[1]!), replicas: replicas.map((replica) => port(replica[1]!)) };
}

/** A plain connection to one node, which does not follow MOVED. */
export function connectNode(port: number, password?: string): Redis {
  // Commands report their own failures; the connection's 'error' events would only repeat them.
  return new Redis({ host: '127.0.0.1', port, password, lazyConnect: false, maxRetriesPerRequest: 1 }).on('error', () => {});
}

/** Polls until check() holds, failing after timeoutMs: replication is asynchronous. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
