import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Logger } from '../logger';
import type { WorkloadDependencies } from '../workloads';
import type { OutageLog } from '../workloads/outage';
import { failOpen, RATE_LIMIT_PREFIX } from '../workloads/rate-limit';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const isApiRequest = (req: Request) => req.originalUrl.startsWith('/api/');

/** The client a counter belongs to: its address, an IPv6 client's /56 as one (what express-rate-limit does by default). */
const clientKey = (req: Request): string => ipKeyGenerator(req.ip ?? 'unknown');

/**
 * Writes per client across every instance: one counter per client in the
 * cluster, counted by rate-limit-redis's script, so two instances share the
 * limit exactly. Reads are never counted. Fails open (see failOpen).
 */
export function writeLimiter({ rateLimitStore, config }: WorkloadDependencies, logger: Logger, outage: OutageLog): RequestHandler {
  const settings = { limit: config.rateLimit.writes, windowSeconds: config.rateLimit.windowSeconds };
  const limiter = rateLimit({
    store: rateLimitStore,
    windowMs: config.rateLimit.windowSeconds * 1000,
    limit: config.rateLimit.writes,
    // The IETF draft's RateLimit and RateLimit-Policy headers, and Retry-After on a 429.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: clientKey,
    handler: (req, res) => {
      const message = `Too many writes: ${config.rateLimit.writes} per ${config.rateLimit.windowSeconds} s per client, over all instances. Try again in ${res.get('Retry-After')} s.`;
      res.status(429);
      if (isApiRequest(req)) res.json({ error: message });
      else res.render('limits', { title: 'Rate limits', stylesheets: ['workloads.css'], error: message, ...settings });
    },
    logger: {
      warn: (error, message) => logger.warn(message ?? 'rate limiter', { error }),
      error: (error, message) => logger.error(message ?? 'rate limiter', { error }),
    },
  });
  const counted = failOpen(limiter, outage);
  // Reads skip the limiter before it starts, so they pay nothing for it.
  return (req, res, next) => (READS.has(req.method) ? next() : counted(req, res, next));
}

/** The rate-limit demo: a page and an API that show a client's count, and a write that only counts. */
export function limitRoutes({ rateLimitStore, config }: WorkloadDependencies, limiter: RequestHandler, outage: OutageLog): Router {
  const router = Router();

  const status = async (req: Request) => {
    const client = clientKey(req);
    const base = {
      client,
      key: `${RATE_LIMIT_PREFIX}${client}`,
      limit: config.rateLimit.writes,
      windowSeconds: config.rateLimit.windowSeconds,
    };
    try {
      const info = await rateLimitStore.get(client);
      const used = info?.totalHits ?? 0;
      const resetsInSeconds = info?.resetTime ? Math.max(0, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : undefined;
      outage.recovered();
      return { ...base, used, remaining: Math.max(0, base.limit - used), resetsInSeconds, counting: true };
    } catch (error) {
      outage.failed(error);
      return { ...base, used: undefined, remaining: undefined, resetsInSeconds: undefined, counting: false };
    }
  };
  const renderPage = async (req: Request, res: Response, extra: Record<string, unknown> = {}) => {
    res.render('limits', { title: 'Rate limits', stylesheets: ['workloads.css'], ...(await status(req)), ...extra });
  };

  /** What the limiter found while counting this write; undefined if it could not count (fail open). */
  const counted = (req: Request) => {
    // express-rate-limit's requestPropertyName, left at its default.
    const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
    if (!info) return { counting: false };
    const resetsInSeconds = info.resetTime ? Math.max(0, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : undefined;
    return {
      counting: true,
      client: info.key,
      key: `${RATE_LIMIT_PREFIX}${info.key}`,
      used: info.used,
      remaining: info.remaining,
      resetsInSeconds,
    };
  };

  router.get('/limits', (req, res) => renderPage(req, res));
  // Counted by the limiter before it gets here; past the limit the limiter answers 429 instead.
  router.post('/limits', limiter, (req, res) => renderPage(req, res, { tried: true, ...counted(req) }));

  router.get('/api/limits', async (req, res) => {
    res.json(await status(req));
  });
  // Under /api, where the app's write limiter has counted it already: it only counts.
  router.post('/api/limits/try', (req, res) => {
    res.json({ allowed: true, limit: config.rateLimit.writes, windowSeconds: config.rateLimit.windowSeconds, ...counted(req) });
  });

  return router;
}
