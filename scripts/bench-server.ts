/**
 * One server for `npm run bench`, in its own process so its CPU and memory are
 * its own: "bare" (Express, no Redis), "minimal" (Express + one ioredis call
 * per request), "original" (the routes this template grew from) or "app"
 * (this project's app). Prints {"port":N} when ready. The bench runs it
 * compiled, under plain node, as `node dist/server.js` runs the app.
 */
import express from 'express';
import { createOriginalApp, originalClient } from './bench-original/app';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { createRedisCluster, createRedisServices } from '../src/redis';
import { createWorkloads } from '../src/workloads';

const kind = process.argv[2];
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'production',
  LOG_LEVEL: 'silent',
  SESSION_SECRET: 'bench-only-session-secret-not-for-real-use',
  // Every write the bench sends is counted (that is part of a write's cost) but none is refused.
  RATE_LIMIT_WRITES: '1000000000',
  // Cached products outlive the run: the cache-aside route measures hits.
  CACHE_TTL_SECONDS: '3600',
});

function server(): express.Express {
  if (kind === 'original') return createOriginalApp(originalClient(config.redis.nodes));
  if (kind === 'bare') {
    const app = express();
    app.get('/bare', (_req, res) => {
      res.send('ok');
    });
    // The cost of moving a page's bytes alone, with no Redis and no rendering.
    const pages = new Map<number, string>();
    app.get('/bytes/:count', (req, res) => {
      const count = Math.min(Number(req.params.count) || 0, 1 << 20);
      if (!pages.has(count)) pages.set(count, 'x'.repeat(count));
      res.type('html').send(pages.get(count));
    });
    return app;
  }
  const cluster = createRedisCluster(config.redis, createLogger('silent'));
  if (kind === 'minimal') {
    const app = express();
    app.use(express.json());
    app.get('/get/:key', async (req, res) => {
      res.json({ value: await cluster.get(req.params.key) });
    });
    app.put('/set/:key', async (req: express.Request<{ key: string }, unknown, { value: unknown }>, res) => {
      await cluster.set(req.params.key, String(req.body.value));
      res.json({ ok: true });
    });
    return app;
  }
  if (kind === 'app') {
    const workloads = createWorkloads(cluster, config);
    return createApp({ ...createRedisServices(cluster, config.redis), logger: createLogger('silent'), config, workloads });
  }
  throw new Error(`unknown server kind "${kind}": bare, minimal, original or app`);
}

const listening = server().listen(0, '127.0.0.1', () => {
  const address = listening.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
