import { Router, type Response } from 'express';
import type { ClusterView } from '../cluster-view';
import { describeError, HttpError } from '../errors';
import { echo, requireForm } from '../input';
import { productKeys, type CachedRead, type CacheOutcome, type ProductCache } from '../workloads/cache';
import type { WorkloadConfig } from '../workloads';
import type { Product, ProductChanges } from '../workloads/origin';
import { keySlots } from './key-slots';

const MAX_NAME_LENGTH = 80;
const MAX_PRICE_CENTS = 10_000_000;

/** A product id from a URL or a form: a whole number, so it can only name a product, never another key. */
export function readProductId(raw: unknown): number {
  if (typeof raw !== 'string' || !/^[1-9]\d{0,8}$/.test(raw.trim())) {
    throw new HttpError(400, 'A product id is a whole number from 1 to 999999999.');
  }
  return Number(raw);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f\uFFFD]/;

/** name and/or priceCents, from JSON or a form (where every field is text). */
export function readProductChanges(body: unknown): ProductChanges {
  const fields = requireForm(body);
  const changes: ProductChanges = {};
  if (fields.name !== undefined && fields.name !== '') {
    const name = fields.name;
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME_LENGTH || CONTROL.test(name)) {
      throw new HttpError(400, `"name" must be text of 1 to ${MAX_NAME_LENGTH} characters, with no control characters.`);
    }
    changes.name = name.trim();
  }
  if (fields.priceCents !== undefined && fields.priceCents !== '') {
    const price = typeof fields.priceCents === 'string' ? fields.priceCents.trim() : fields.priceCents;
    const cents = typeof price === 'number' ? price : typeof price === 'string' && /^\d{1,8}$/.test(price) ? Number(price) : NaN;
    if (!Number.isInteger(cents) || cents < 0 || cents > MAX_PRICE_CENTS) {
      throw new HttpError(400, `"priceCents" must be a whole number of cents from 0 to ${MAX_PRICE_CENTS}.`);
    }
    changes.priceCents = cents;
  }
  if (Object.keys(changes).length === 0) throw new HttpError(400, 'Send "name", "priceCents" or both.');
  return changes;
}

const OUTCOME_TEXT: Record<CacheOutcome, string> = {
  hit: 'hit: Redis had it',
  miss: 'miss: this request loaded it from the origin and cached it',
  coalesced: 'miss: another request was loading it, and this one waited for its answer instead of asking the origin again',
  bypass: 'Redis did not answer in time: served from the origin, nothing cached',
};

const priceText = (product: Product) => (product.priceCents / 100).toFixed(2);

/** Cache-aside in front of the slow origin: a page and a JSON API. */
export function productRoutes(cache: ProductCache, view: ClusterView, config: WorkloadConfig): Router {
  const router = Router();

  const renderPage = async (res: Response, id: number | undefined, extra: Record<string, unknown> = {}, status = 200) => {
    let read: CachedRead | undefined;
    let where;
    if (id !== undefined) {
      read = await cache.read(id);
      const { value, lock } = productKeys(id);
      where = await keySlots(view, [value, lock]);
    }
    // A product the origin does not have is a 404 page, as it is a 404 in the API.
    res.status(read && !read.product && status === 200 ? 404 : status).render('products', {
      title: 'Cache-aside',
      stylesheets: ['workloads.css'],
      originDelayMs: config.origin.delayMs,
      ttlSeconds: config.cache.ttlSeconds,
      id,
      read: read && {
        ...read,
        ms: read.ms.toFixed(1),
        outcomeText: OUTCOME_TEXT[read.outcome],
        price: read.product && priceText(read.product),
      },
      where,
      stats: cache.stats(),
      ...extra,
    });
  };

  router.get('/products', async (req, res) => {
    const raw = req.query.id;
    if (raw === undefined || raw === '') return renderPage(res, undefined);
    try {
      await renderPage(res, readProductId(raw), { updated: req.query.updated === '1' });
    } catch (error) {
      const problem = describeError(error);
      if (!problem || problem.status >= 500) throw error;
      await renderPage(res, undefined, { error: problem.message, lookup: echo(req.query, 'id') }, problem.status);
    }
  });

  router.post('/products/:id', async (req, res) => {
    const id = readProductId(req.params.id);
    try {
      const product = await cache.update(id, readProductChanges(req.body));
      if (!product) throw new HttpError(404, `There is no product ${id}.`);
      res.redirect(303, `/products?id=${id}&updated=1`);
    } catch (error) {
      const problem = describeError(error);
      if (!problem) throw error;
      if (problem.retryAfter) res.set('Retry-After', String(problem.retryAfter));
      await renderPage(res, id, { error: problem.message, edit: echo(req.body, 'name', 'priceCents') }, problem.status);
    }
  });

  router.get('/api/products/:id', async (req, res) => {
    const id = readProductId(req.params.id);
    const { product, outcome, ms } = await cache.read(id);
    if (!product) {
      res.status(404).json({ error: `There is no product ${id}.`, cache: outcome });
      return;
    }
    res.json({ product, cache: outcome, ms });
  });

  router.put('/api/products/:id', async (req, res) => {
    const id = readProductId(req.params.id);
    const product = await cache.update(id, readProductChanges(req.body));
    if (!product) throw new HttpError(404, `There is no product ${id}.`);
    res.json({ product });
  });

  router.get('/api/cache', (_req, res) => {
    res.json({ ...cache.stats(), originDelayMs: config.origin.delayMs, ttlSeconds: config.cache.ttlSeconds });
  });

  return router;
}
