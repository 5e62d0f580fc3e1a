import { spawn, spawnSync } from 'node:child_process';
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

export type ClusterCommand = 'start' | 'stop' | 'clean' | 'status' | 'add-shard' | 'remove-shard';

/** Runs redis/native-cluster.sh with a deadline; throws with its output if it fails. */
export function runClusterScript(cluster: Pick<NativeCluster, 'env'>, command: ClusterCommand, timeoutMs = 60_000): string {
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

/**
 * Runs redis/native-cluster.sh without blocking the event loop, so an app
 * under load in this process keeps serving while, say, a shard is added.
 * Each line of output goes to onLine as it comes; past the deadline the
 * script and every redis-cli it started are killed.
 */
export function runClusterScriptAsync(
  cluster: Pick<NativeCluster, 'env'>,
  command: ClusterCommand,
  timeoutMs = 120_000,
  onLine: (line: string) => void = () => {},
): Promise<string> {
  // A process group of its own, so the deadline can kill the redis-cli children too.
  const child = spawn('sh', [SCRIPT, command], { env: { ...process.env, ...cluster.env }, detached: true });
  let output = '';
  let partial = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(onLine);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`native-cluster.sh ${command} did not start: ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial) onLine(partial);
      if (code === 0) return resolve(output);
      const why = timedOut ? `killed after ${timeoutMs} ms` : `exit ${code}`;
      reject(new Error(`native-cluster.sh ${command} failed (${why}):\n${output}`));
    });
  });
}
