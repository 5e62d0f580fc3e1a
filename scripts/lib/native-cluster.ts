import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, '..', '..', 'redis', 'native-cluster.sh');

export interface NativeCluster {
  basePort: number;
  dir: string;
  nodes: { host: string; port: number }[];
  env: Record<string, string>;
}

/** A native cluster of its own for a test or script, in a temporary directory, on ports nobody else uses. */
export function nativeCluster(basePort: number, extraEnv: Record<string, string> = {}): NativeCluster {
  const dir = path.join(os.tmpdir(), `redis-cluster-starter-${basePort}`);
  const nodes = Array.from({ length: 6 }, (_, i) => ({ host: '127.0.0.1', port: basePort + i }));
  return { basePort, dir, nodes, env: { CLUSTER_DIR: dir, CLUSTER_BASE_PORT: String(basePort), ...extraEnv } };
}

/** Runs redis/native-cluster.sh with a deadline; throws with its output if it fails. */
export function runClusterScript(
  cluster: Pick<NativeCluster, 'env'>,
  command: 'start' | 'stop' | 'clean' | 'status',
  timeoutMs = 60_000,
): string {
  const result = spawnSync('sh', [SCRIPT, command], {
    env: { ...process.env, ...cluster.env },
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) {
    throw new Error(`native-cluster.sh ${command} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}`);
  }
  return output;
}

/** Starts from nothing, so a run that crashed last time cannot leak state into this one. */
export function startFresh(cluster: NativeCluster): string {
  runClusterScript(cluster, 'clean');
  return runClusterScript(cluster, 'start');
}

/** The pidfile redis/native-cluster.sh gives a node; Redis deletes it on a clean exit. */
export function nodePidFile(clusterDir: string, port: number | string): string {
  return path.join(clusterDir, String(port), 'redis.pid');
}

export function nodePid(clusterDir: string, port: number | string): number {
  return Number(readFileSync(nodePidFile(clusterDir, port), 'utf8'));
}
