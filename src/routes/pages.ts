import { Router, type Response } from 'express';
import type { ClusterView } from '../cluster-view';
import { describeError } from '../errors';
import { echo, readKey, readTtl, readValue, requireForm, type Limits } from '../input';
import type { Logger } from '../logger';
import type { KeyValueStore } from '../store';
import { readKeyReport, writeKeyReport, type KeyReport } from './report';

interface HomeView {
  save?: Record<string, string>;
  search?: Record<string, string>;
  result?: { kind: 'saved' | 'found' | 'missing'; report: KeyReport };
  error?: string;
}

function renderHome(res: Response, view: HomeView, status = 200): void {
  res.status(status).render('home', { title: 'Redis Cluster Starter', ...view });
}

/**
 * Shows a problem the user can act on inside the page they were using, with
 * their input still in the form; anything else goes on to the error handler.
 */
function renderProblem(res: Response, logger: Logger, error: unknown, view: HomeView): void {
  const problem = describeError(error);
  if (!problem) throw error;
  if (problem.status >= 500) logger.warn('redis unavailable', { path: res.req.path, error, cause: (error as Error).cause });
  if (problem.retryAfter) res.set('Retry-After', String(problem.retryAfter));
  renderHome(res, { ...view, error: problem.message }, problem.status);
}

export function pageRoutes(store: KeyValueStore, view: ClusterView, limits: Limits, logger: Logger): Router {
  const router = Router();

  router.get('/', (_req, res) => renderHome(res, {}));

  router.post('/save-data', async (req, res) => {
    try {
      const fields = requireForm(req.body);
      const key = readKey(fields, limits);
      const report = await writeKeyReport(store, view, key, readValue(fields, limits), readTtl(fields));
      renderHome(res, { result: { kind: 'saved', report }, search: { key } });
    } catch (error) {
      renderProblem(res, logger, error, { save: echo(req.body, 'key', 'value', 'ttl') });
    }
  });

  router.post('/search', async (req, res) => {
    try {
      const key = readKey(requireForm(req.body), limits);
      const report = await readKeyReport(store, view, key);
      renderHome(res, { result: { kind: report.value === null ? 'missing' : 'found', report }, search: { key } });
    } catch (error) {
      renderProblem(res, logger, error, { search: echo(req.body, 'key') });
    }
  });

  router.get('/cluster', async (_req, res) => {
    const overview = await view.overview();
    res.render('cluster', { title: 'Cluster state', overview, refreshSeconds: 5 });
  });

  return router;
}
