import type { AddressInfo } from 'node:net';
import calculateSlot from 'cluster-key-slot';
import type { Express } from 'express';

export interface LoadStats {
  requests: number;
  statuses: Record<number, number>;
  /** Requests that got no HTTP answer at all. */
  networkErrors: number;
  slowestMs: number;
  /** Keys whose save the app acknowledged with 200, and the value saved. */
  acknowledged: Map<string, string>;
  /** When each of those saves was acknowledged (ms since the epoch). */
  acknowledgedAt: Map<string, number>;
}

export interface RunningLoad {
  /** Live counters, updated as answers arrive. */
  stats: LoadStats;
  /** Lets every worker finish its request in flight, closes the server, returns the totals. */
  stop(): Promise<LoadStats>;
}

/**
 * Serves the app on a loopback port and runs `workers` loops of
 * save-then-search against it over real HTTP, each loop on its own keys so
 * every slot gets traffic, until stop().
 */
export async function startLoad(app: Express, workers: number, keyPrefix = 'load'): Promise<RunningLoad> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stats: LoadStats = {
    requests: 0,
    statuses: {},
    networkErrors: 0,
    slowestMs: 0,
    acknowledged: new Map(),
    acknowledgedAt: new Map(),
  };
  let running = true;

  const post = async (path: string, body: Record<string, string>): Promise<number | undefined> => {
    const started = performance.now();
    try {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
        signal: AbortSignal.timeout(15_000),
      });
      await res.arrayBuffer();
      stats.statuses[res.status] = (stats.statuses[res.status] ?? 0) + 1;
      return res.status;
    } catch {
      stats.networkErrors += 1;
      return undefined;
    } finally {
      stats.requests += 1;
      stats.slowestMs = Math.max(stats.slowestMs, performance.now() - started);
    }
  };

  const loops = Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; running; i += 1) {
        const key = `${keyPrefix}:${worker}:${i}`;
        const value = `v${i}`;
        if ((await post('/save-data', { key, value })) === 200) {
          stats.acknowledged.set(key, value);
          stats.acknowledgedAt.set(key, Date.now());
        }
        await post('/search', { key });
      }
    }),
  );

  return {
    stats,
    stop: async () => {
      running = false;
      await loops;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return stats;
    },
  };
}

/** Failed requests: anything but 200, plus requests with no answer. */
export const failures = (stats: LoadStats): number =>
  stats.networkErrors + Object.entries(stats.statuses).reduce((sum, [status, n]) => sum + (status === '200' ? 0 : n), 0);

/**
 * How long after `since` the app first had a save acknowledged for a key in
 * one of `slots`: after a failover, how soon the app writes to the promoted
 * replica's slots again. Undefined if it never did.
 */
export function firstWriteAfter(stats: LoadStats, since: number, slots: (slot: number) => boolean): number | undefined {
  let first: number | undefined;
  for (const [key, at] of stats.acknowledgedAt) {
    if (at >= since && (first === undefined || at < first) && slots(calculateSlot(key))) first = at;
  }
  return first === undefined ? undefined : first - since;
}
