import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

export interface LoadResult {
  requests: number;
  statuses: Record<number, number>;
  /** Requests that failed at the HTTP level (no status at all). */
  networkErrors: number;
  slowestMs: number;
  /** Keys whose save the app acknowledged with 200. */
  acknowledged: Map<string, string>;
}

/**
 * Runs `workers` loops of save-then-search against the app over real HTTP
 * until `stop()` resolves, each loop on its own keys so all slots get traffic.
 */
export async function steadyLoad(app: Express, workers: number, stop: Promise<void>): Promise<LoadResult> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const result: LoadResult = { requests: 0, statuses: {}, networkErrors: 0, slowestMs: 0, acknowledged: new Map() };
  let running = true;
  void stop.then(() => {
    running = false;
  });

  const timed = async (path: string, body: Record<string, string>): Promise<number | undefined> => {
    const started = performance.now();
    try {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
        signal: AbortSignal.timeout(15_000),
      });
      await res.arrayBuffer();
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      return res.status;
    } catch {
      result.networkErrors += 1;
      return undefined;
    } finally {
      result.requests += 1;
      result.slowestMs = Math.max(result.slowestMs, performance.now() - started);
    }
  };

  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; running; i += 1) {
        const key = `load:${worker}:${i}`;
        const value = `v${i}`;
        if ((await timed('/save-data', { key, value })) === 200) result.acknowledged.set(key, value);
        await timed('/search', { key });
      }
    }),
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return result;
}
