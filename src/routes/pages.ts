import { Router, type Response } from 'express';
import { describeError } from '../errors';
import { echo, readKey, readValue, requireForm, type Limits } from '../input';
import type { KeyValueStore } from '../store';

type Result =
  | { kind: 'saved'; key: string; value: string }
  | { kind: 'found'; key: string; value: string }
  | { kind: 'missing'; key: string };

interface HomeView {
  save?: Record<string, string>;
  search?: Record<string, string>;
  result?: Result;
  error?: string;
}

function renderHome(res: Response, view: HomeView, status = 200): void {
  res.status(status).render('home', { title: 'Redis Cluster Starter', ...view });
}

/**
 * Shows a problem the user can act on inside the page they were using, with
 * their input still in the form; anything else goes on to the error handler.
 */
function renderProblem(res: Response, error: unknown, view: HomeView): void {
  const problem = describeError(error);
  if (!problem) throw error;
  if (problem.retryAfter) res.set('Retry-After', String(problem.retryAfter));
  renderHome(res, { ...view, error: problem.message }, problem.status);
}

export function pageRoutes(store: KeyValueStore, limits: Limits): Router {
  const router = Router();

  router.get('/', (_req, res) => renderHome(res, {}));

  router.post('/save-data', async (req, res) => {
    try {
      const fields = requireForm(req.body);
      const key = readKey(fields, limits);
      const value = readValue(fields, limits);
      await store.set(key, value);
      renderHome(res, { result: { kind: 'saved', key, value }, search: { key } });
    } catch (error) {
      renderProblem(res, error, { save: echo(req.body, 'key', 'value') });
    }
  });

  router.post('/search', async (req, res) => {
    try {
      const key = readKey(requireForm(req.body), limits);
      const value = await store.get(key);
      const result: Result = value === null ? { kind: 'missing', key } : { kind: 'found', key, value };
      renderHome(res, { result, search: { key } });
    } catch (error) {
      renderProblem(res, error, { search: echo(req.body, 'key') });
    }
  });

  return router;
}
