import path from 'node:path';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Router } from 'express';
import { ExpressHandlebars } from 'express-handlebars';
import helmet from 'helmet';
import type { ClusterView } from './cluster-view';
import type { Config } from './config';
import { describeError, HttpError } from './errors';
import { bodyLimitBytes, verifyFormBody, verifyJsonBody } from './input';
import type { Logger } from './logger';
import { apiRoutes } from './routes/api';
import { limitRoutes, writeLimiter } from './routes/limits';
import { pageRoutes } from './routes/pages';
import { productRoutes } from './routes/products';
import { sessionRoutes } from './routes/session';
import type { KeyValueStore } from './store';
import type { WorkloadDependencies } from './workloads';
import { ProductCache } from './workloads/cache';
import { OutageLog } from './workloads/outage';

export interface AppDependencies {
  store: KeyValueStore;
  view: ClusterView;
  logger: Logger;
  config: Pick<Config, 'nodeEnv' | 'limits'>;
  /** The cache, session and rate-limit demos; without them their routes are absent and writes are not limited. */
  workloads?: WorkloadDependencies;
}

const VIEWS = path.join(__dirname, '..', 'views');
const PUBLIC = path.join(__dirname, '..', 'public');

/** JSON routes answer with JSON, errors included. */
const isApiRequest = (req: Request): boolean => req.path === '/api' || req.path.startsWith('/api/');

/**
 * Pages get helmet's full set. A JSON response is never a document the
 * browser lays out, so most of that set means nothing to it; the API keeps
 * what still matters when one is opened or fetched directly: no sniffing it
 * into HTML, no framing it, no loading it from another origin. Fewer bytes on
 * every API response, too.
 */
const API_HELMET = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  strictTransportSecurity: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
} as const;

type Found<T> = Map<string, Promise<T>>;

/** Keeps what a lookup found, or is still finding; a failed lookup is forgotten, so the next one tries again. */
function remember<T>(found: Found<T>, key: string, look: () => Promise<T>): Promise<T> {
  let promise = found.get(key);
  if (!promise) {
    const looking = look();
    looking.catch(() => {
      if (found.get(key) === looking) found.delete(key);
    });
    found.set(key, (promise = looking));
  }
  return promise;
}

type LookupOptions = Parameters<ExpressHandlebars['getTemplate']>[1];

/**
 * express-handlebars, with what it finds kept while the view cache is on.
 * Otherwise each render finds every partial again (the directory listing
 * copied, one chain of promises per partial) and resolves each template's
 * path before reaching its cache: together more than half of what rendering
 * the key page cost (docs/benchmarks.md). With the view cache off
 * (development), every render still reads the files afresh.
 */
class ViewEngine extends ExpressHandlebars {
  private readonly partials: Found<Awaited<ReturnType<ExpressHandlebars['getPartials']>>> = new Map();
  private readonly templates: Found<Awaited<ReturnType<ExpressHandlebars['getTemplate']>>> = new Map();

  override getPartials(options: LookupOptions = {}): ReturnType<ExpressHandlebars['getPartials']> {
    // One engine serves one views directory, so there is one set of partials.
    return options.cache ? remember(this.partials, 'partials', () => super.getPartials(options)) : super.getPartials(options);
  }

  override getTemplate(filePath: string, options: LookupOptions = {}): ReturnType<ExpressHandlebars['getTemplate']> {
    const kept = options.cache && !options.precompiled;
    return kept ? remember(this.templates, filePath, () => super.getTemplate(filePath, options)) : super.getTemplate(filePath, options);
  }
}

const HELPERS = { eq: (a: unknown, b: unknown) => a === b };

/** The cache, session and rate-limit demos, and the limiter that counts every write under /api. */
function workloadRoutes(
  workloads: WorkloadDependencies,
  view: ClusterView,
  logger: Logger,
): { writeLimiter: RequestHandler; routes: Router[] } {
  const counters = new OutageLog(logger, 'writes go through unlimited', 'rate-limit counters');
  const limiter = writeLimiter(workloads, logger, counters);
  const cache = new ProductCache(workloads.cacheStore, workloads.origin, new OutageLog(logger, 'serving from the origin', 'cache'), {
    ttlSeconds: workloads.config.cache.ttlSeconds,
    // Generous beside the origin's delay: a load that outlives its lock lets a second one start.
    lockMs: Math.max(1000, 4 * workloads.config.origin.delayMs),
  });
  return {
    writeLimiter: limiter,
    routes: [
      productRoutes(cache, view, workloads.config),
      sessionRoutes(workloads, cache, view, logger),
      limitRoutes(workloads, limiter, counters),
    ],
  };
}

/** Builds the app without listening or connecting: the caller owns both. */
export function createApp({ store, view, logger, config, workloads }: AppDependencies): Express {
  const app = express();

  const views = new ViewEngine({
    extname: '.hbs',
    defaultLayout: 'main',
    helpers: HELPERS,
    compilerOptions: {
      // Every {{name}} that is not one of these helpers is then read as data,
      // without asking at each one whether it is a helper.
      knownHelpers: Object.fromEntries(Object.keys(HELPERS).map((name) => [name, true])),
      knownHelpersOnly: true,
      // A partial's lines are not indented again to match its call on every render.
      preventIndent: true,
    },
  });
  app.engine('hbs', views.engine);
  app.set('view engine', 'hbs');
  app.set('views', VIEWS);
  app.disable('x-powered-by');
  // Express reads these from NODE_ENV at import; take them from the validated config instead.
  app.set('env', config.nodeEnv);
  app.set('view cache', config.nodeEnv !== 'development');

  // helmet's defaults, but no inline styles: the pages' CSS is a file under /static.
  const pageHeaders = helmet({ contentSecurityPolicy: { directives: { styleSrc: ["'self'"] } } });
  const apiHeaders = helmet(API_HELMET);
  app.use((req, res, next) => (isApiRequest(req) ? apiHeaders : pageHeaders)(req, res, next));
  // Under its own prefix, so no other request pays for a look at the disk.
  app.use('/static', express.static(PUBLIC, { index: false, maxAge: config.nodeEnv === 'development' ? 0 : '1h' }));
  const limit = bodyLimitBytes(config.limits);
  app.use(express.urlencoded({ extended: false, limit, parameterLimit: 20, verify: verifyFormBody }));
  app.use(express.json({ limit, verify: verifyJsonBody }));

  app.get('/healthz', async (_req, res) => {
    try {
      await store.ping();
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'Redis cluster is not answering' });
    }
  });

  const demos = workloads && workloadRoutes(workloads, view, logger);
  if (demos) app.use('/api', demos.writeLimiter);
  // The key routes before the demos': a request walks past every route in
  // front of its own, and no path of theirs is also one of the demos'.
  app.use('/api', apiRoutes(store, view, config.limits));
  app.use(pageRoutes(store, view, config.limits, logger));
  if (demos) app.use(demos.routes);

  app.use((req, _res, next) => next(new HttpError(404, `There is no page at ${req.path}.`)));

  const handleError: ErrorRequestHandler = (error, req, res, _next) => {
    const problem = describeError(error) ?? { status: 500, message: 'Something went wrong on our side.' };
    if (problem.status >= 500) logger.error('request failed', { method: req.method, path: req.path, status: problem.status, error });
    if (res.headersSent) return;
    if (problem.retryAfter) res.set('Retry-After', String(problem.retryAfter));
    const detail = config.nodeEnv === 'development' && problem.status === 500 ? String((error as Error)?.stack) : undefined;
    res.status(problem.status);
    if (isApiRequest(req)) {
      res.json({ error: problem.message });
      return;
    }
    res.format({
      html: () => res.render('error', { title: `Error ${problem.status}`, status: problem.status, message: problem.message, detail }),
      json: () => res.json({ error: problem.message }),
      default: () => res.type('text').send(problem.message),
    });
  };
  app.use(handleError);

  return app;
}
