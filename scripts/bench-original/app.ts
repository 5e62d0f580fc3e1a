/**
 * The original routes this template grew from, kept as a yardstick for
 * `npm run bench`: Express, express-handlebars with a small layout and page,
 * and an ioredis Cluster with its defaults plus auto-pipelining. No input
 * checks, no security headers, no report of where a key lives: only what those
 * routes did. A baseline to measure against, not a file to copy.
 */
import path from 'node:path';
import express, { type Express, type Request } from 'express';
import { engine } from 'express-handlebars';
import { Cluster } from 'ioredis';

type Client = Pick<Cluster, 'get' | 'set'>;
type Fields = Request<Record<string, string>, unknown, { key: string; value: string }>;

/** The client as those routes made it: ioredis' defaults and auto-pipelining, nothing else. */
export const originalClient = (nodes: { host: string; port: number }[]): Cluster => new Cluster(nodes, { enableAutoPipelining: true });

export function createOriginalApp(redis: Client): Express {
  const app = express();
  app.engine('handlebars', engine());
  app.set('view engine', 'handlebars');
  app.set('views', path.join(__dirname, 'views'));
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());

  app.post('/save-data', async (req: Fields, res) => {
    const { key, value } = req.body;
    await redis.set(key, value);
    res.render('home/index', { layout: 'default', key, value });
  });
  app.post('/search', async (req: Fields, res) => {
    const value = await redis.get(req.body.key);
    res.render('home/index', { layout: 'default', value });
  });

  // The same two operations as JSON, to pair with the app's API routes.
  app.get('/api/keys/:key', async (req, res) => {
    res.json({ value: await redis.get(req.params.key) });
  });
  app.put('/api/keys/:key', async (req: Fields, res) => {
    await redis.set(req.params.key!, req.body.value);
    res.json({ key: req.params.key, value: req.body.value });
  });

  return app;
}
