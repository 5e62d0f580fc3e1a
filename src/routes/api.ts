import { Router } from 'express';
import type { ClusterView } from '../cluster-view';
import { HttpError } from '../errors';
import { readKey, readTtl, readValue, requireForm, type Limits } from '../input';
import type { KeyValueStore } from '../store';
import { readKeyReport, writeKeyReport } from './report';

const MAX_SCAN_COUNT = 1000;
const MAX_PATTERN_BYTES = 256;

function scanOptions(query: Record<string, unknown>): { match: string; count: number; cursor: string } {
  const text = (name: string, fallback: string): string => {
    const value = query[name] ?? fallback;
    if (typeof value !== 'string') throw new HttpError(400, `"${name}" must be given once.`);
    return value;
  };
  const match = text('match', '*');
  if (match === '' || Buffer.byteLength(match) > MAX_PATTERN_BYTES) {
    throw new HttpError(400, `"match" must be a glob pattern of 1 to ${MAX_PATTERN_BYTES} bytes.`);
  }
  const count = text('count', '100');
  if (!/^\d{1,4}$/.test(count) || Number(count) < 1 || Number(count) > MAX_SCAN_COUNT) {
    throw new HttpError(400, `"count" must be a whole number from 1 to ${MAX_SCAN_COUNT}.`);
  }
  return { match, count: Number(count), cursor: text('cursor', '0') };
}

/** JSON beside the forms: the same operations, for scripts and curl. */
export function apiRoutes(store: KeyValueStore, view: ClusterView, limits: Limits): Router {
  const router = Router();
  // "." and ".." are rewritten by clients and proxies before they reach us, so
  // such a key could never be read back reliably through a URL.
  const keyParam = (key: string | undefined) => {
    if (key === '.' || key === '..') throw new HttpError(400, `"${key}" cannot be used as a key in a URL.`);
    return readKey({ key }, limits);
  };

  router.get('/keys', async (req, res) => {
    res.json(await store.scan(scanOptions(req.query)));
  });

  router.get('/keys/:key', async (req, res) => {
    const report = await readKeyReport(store, view, keyParam(req.params.key));
    if (report.value === null) throw new HttpError(404, `There is no key "${report.key}".`);
    res.json(report);
  });

  router.put('/keys/:key', async (req, res) => {
    const key = keyParam(req.params.key);
    const fields = requireForm(req.body);
    if (typeof fields.value !== 'string') throw new HttpError(400, 'Send the value as a string field "value".');
    res.json(await writeKeyReport(store, view, key, readValue(fields, limits), readTtl(fields)));
  });

  router.delete('/keys/:key', async (req, res) => {
    const key = keyParam(req.params.key);
    if (!(await store.del(key))) throw new HttpError(404, `There is no key "${key}".`);
    res.status(204).end();
  });

  router.get('/cluster', async (_req, res) => {
    res.json(await view.overview());
  });

  return router;
}
