import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** One master as CLUSTER NODES describes it, with its replicas. */
export interface Shard {
  id: string;
  /** "host:port", as the cluster announces it. */
  address: string;
  slots: number;
  /** Slot ranges, e.g. [[0, 1364], [5461, 6826]]. */
  ranges: [number, number][];
  replicas: { id: string; address: string }[];
}

interface NodeLine {
  id: string;
  address: string;
  flags: string[];
  masterId: string;
  ranges: [number, number][];
}

function parseLine(line: string): NodeLine {
  const [id = '', address = '', flags = '', masterId = '', , , , , ...slots] = line.trim().split(' ');
  const ranges = slots
    // "[5461->-id]" and "[5461-<-id]" mark a slot being migrated or imported, not owned.
    .filter((slot) => !slot.startsWith('['))
    .map((slot): [number, number] => {
      const [start, end] = slot.split('-').map(Number);
      return [start!, end ?? start!];
    });
  return { id, address: address.split('@')[0]!, flags: flags.split(','), masterId, ranges };
}

/**
 * The shards in a CLUSTER NODES reply: every master that has not failed, in
 * address order, with its slot count and its replicas.
 */
export function shardsOf(clusterNodes: string): Shard[] {
  const nodes = clusterNodes
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(parseLine)
    .filter((node) => !node.flags.some((flag) => ['fail', 'handshake', 'noaddr'].includes(flag)));
  return nodes
    .filter((node) => node.flags.includes('master'))
    .map((master) => ({
      id: master.id,
      address: master.address,
      ranges: master.ranges,
      slots: master.ranges.reduce((sum, [start, end]) => sum + end - start + 1, 0),
      replicas: nodes
        .filter((node) => node.flags.includes('slave') && node.masterId === master.id)
        .map(({ id, address }) => ({ id, address })),
    }))
    .sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
}

/** Slots some node marks as migrating or importing, from its own line of CLUSTER NODES. */
export function openSlotsOf(clusterNodes: string): number[] {
  const mine = clusterNodes.split('\n').find((line) => line.split(' ')[2]?.includes('myself')) ?? '';
  return [...mine.matchAll(/\[(\d+)-[<>]-/g)].map((match) => Number(match[1]));
}

const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

export interface ClusterCheck {
  /** Every node agrees on the slot map, no slot is open and all 16384 are covered. */
  clean: boolean;
  /** The check's [WARNING] and [ERR] lines. */
  problems: string[];
  output: string;
}

/**
 * redis-cli --cluster check, without blocking the event loop, signed in and
 * over TLS as redis/native-cluster.sh's redis_cli is.
 */
export function clusterCheck(address: string, env: Record<string, string> = {}): Promise<ClusterCheck> {
  const all: Record<string, string | undefined> = { ...process.env, ...env };
  const args = ['--cluster', 'check', address];
  // redis-cli reads the password from the environment, so it never shows in ps;
  // the user name goes only with a password (redis-cli 7.0 breaks MIGRATE otherwise).
  if (all.REDIS_PASSWORD) {
    all.REDISCLI_AUTH = all.REDIS_PASSWORD;
    args.unshift('--user', all.REDIS_USER ?? 'admin');
  }
  if (all.REDIS_TLS === '1') {
    const tlsDir = all.REDIS_TLS_DIR ?? join(all.CLUSTER_DIR ?? join(__dirname, '../../.cluster'), 'tls');
    args.unshift('--tls', '--cacert', join(tlsDir, 'ca.crt'));
  }
  return new Promise((resolve) => {
    execFile(all.REDIS_CLI ?? 'redis-cli', args, { env: all, timeout: 10_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.replace(COLOUR, '');
      const problems = output.split('\n').filter((line) => /\[(WARNING|ERR)\]/.test(line));
      resolve({ clean: !error && problems.length === 0 && output.includes('[OK] All 16384 slots covered'), problems, output });
    });
  });
}
