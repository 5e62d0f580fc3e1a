import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import session from 'express-session';
import type { ClusterView } from '../cluster-view';
import { describeError, HttpError } from '../errors';
import { echo, requireForm } from '../input';
import type { Logger } from '../logger';
import type { WorkloadDependencies } from '../workloads';
import type { ProductCache } from '../workloads/cache';
import { userKeys, type Cart } from '../workloads/carts';
import { SESSION_PREFIX } from '../workloads/sessions';
import { keySlots } from './key-slots';
import { readProductId } from './products';

declare module 'express-session' {
  interface SessionData {
    user: SignedInUser;
  }
}

export interface SignedInUser {
  /** The name in lower case, spaces as "-": what the user's keys are built from. */
  id: string;
  name: string;
}

/** Letters, digits, space, ".", "_", "-": never "{" or "}", which would change the keys' hash tag. */
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,31}$/u;
const MAX_QUANTITY = 10;

export function readName(body: unknown): SignedInUser {
  const name = requireForm(body).name;
  if (typeof name !== 'string' || !NAME.test(name.trim())) {
    throw new HttpError(400, 'Sign in with a name of 1 to 32 letters, digits, spaces, ".", "_" or "-".');
  }
  const trimmed = name.trim();
  return { id: trimmed.toLowerCase().replace(/\s+/g, '-'), name: trimmed };
}

function readQuantity(raw: unknown): number {
  const text = typeof raw === 'number' ? String(raw) : raw === undefined || raw === '' ? '1' : raw;
  if (typeof text !== 'string' || !/^\d{1,2}$/.test(text.trim()) || Number(text) < 1 || Number(text) > MAX_QUANTITY) {
    throw new HttpError(400, `"quantity" must be a whole number from 1 to ${MAX_QUANTITY}.`);
  }
  return Number(text);
}

/** The secret from config; outside production a per-process one, with a warning of what that costs. */
function sessionSecret(configured: string | undefined, logger: Logger): string {
  if (configured) return configured;
  logger.warn(
    'SESSION_SECRET is not set: using a secret made for this process, so sessions end when it restarts ' +
      'and another instance cannot read them. Set SESSION_SECRET (the same on every instance) to keep them.',
  );
  return randomBytes(32).toString('base64');
}

const call = (work: (done: (error?: Error) => void) => void) =>
  new Promise<void>((resolve, reject) => work((error) => (error ? reject(error) : resolve())));

function signedIn(req: Request): SignedInUser {
  const user = req.session.user;
  if (!user) throw new HttpError(401, 'Sign in first: POST /api/session with a "name".');
  return user;
}

/** Sessions in the cluster with express-session, and a per-user cart beside them. */
export function sessionRoutes(workloads: WorkloadDependencies, cache: ProductCache, view: ClusterView, logger: Logger): Router {
  const { sessionStore, carts, config } = workloads;
  const router = Router();
  router.use(
    ['/session', '/api/session'],
    session({
      store: sessionStore,
      secret: sessionSecret(config.session.secret, logger),
      name: 'sid',
      // Only sessions with something in them are stored; an unchanged one is touched, not rewritten.
      saveUninitialized: false,
      resave: false,
      // Every answer sends the cookie again and pushes the expiry back: the session ends after ttl of idleness.
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: config.session.ttlSeconds * 1000 },
    }),
  );

  const signIn = async (req: Request, user: SignedInUser) => {
    // A new id at sign-in, so an id planted before it (session fixation) never becomes a signed-in one.
    await call((done) => req.session.regenerate(done));
    req.session.user = user;
    await call((done) => req.session.save(done));
  };
  const signOut = async (req: Request, res: Response) => {
    await call((done) => req.session.destroy(done));
    res.clearCookie('sid', { httpOnly: true, sameSite: 'lax' });
  };
  const addToCart = async (req: Request) => {
    const user = signedIn(req);
    const fields = requireForm(req.body);
    const productId = readProductId(typeof fields.productId === 'number' ? String(fields.productId) : fields.productId);
    const quantity = readQuantity(fields.quantity);
    if (!(await cache.read(productId)).product) throw new HttpError(404, `There is no product ${productId}.`);
    await carts.add(user.id, productId, quantity);
  };
  const checkout = async (req: Request) => {
    const order = await carts.checkout(signedIn(req).id);
    if (order === undefined) throw new HttpError(409, 'The cart is empty: add something before checking out.');
    return order;
  };

  /** Everything the page and the API show about the signed-in user, or that there is none. */
  const describe = async (req: Request) => {
    const user = req.session.user;
    if (!user) return { signedIn: false as const };
    const keys = userKeys(user.id);
    const [cart, where] = await Promise.all([carts.read(user.id), keySlots(view, [keys.cart, keys.orders])]);
    return {
      signedIn: true as const,
      user,
      cart: cartView(cart),
      keys: where,
      // Only a prefix of the id: the whole of it is the cookie's secret.
      session: {
        key: `${SESSION_PREFIX}${req.session.id.slice(0, 6)}…`,
        expiresInSeconds: Math.round((req.session.cookie.maxAge ?? 0) / 1000),
      },
    };
  };

  const renderPage = async (req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) => {
    const state = await describe(req);
    res.status(status).render('session', {
      title: 'Sessions',
      stylesheets: ['workloads.css'],
      ttlSeconds: config.session.ttlSeconds,
      ...state,
      ...extra,
    });
  };
  /** Shows a problem the user can fix inside the page; anything else goes to the error handler. */
  const pageAction =
    (action: (req: Request, res: Response) => Promise<unknown>, fields: string[]) => async (req: Request, res: Response) => {
      try {
        await action(req, res);
        res.redirect(303, '/session');
      } catch (error) {
        const problem = describeError(error);
        if (!problem || problem.status >= 500) throw error;
        await renderPage(req, res, { error: problem.message, form: echo(req.body, ...fields) }, problem.status);
      }
    };

  router.get('/session', (req, res) => renderPage(req, res));
  router.post(
    '/session',
    pageAction((req) => signIn(req, readName(req.body)), ['name']),
  );
  router.post(
    '/session/sign-out',
    pageAction((req, res) => signOut(req, res), []),
  );
  router.post('/session/cart', pageAction(addToCart, ['productId', 'quantity']));
  router.post('/session/checkout', pageAction(checkout, []));

  router.get('/api/session', async (req, res) => {
    res.json(await describe(req));
  });
  router.post('/api/session', async (req, res) => {
    await signIn(req, readName(req.body));
    res.json(await describe(req));
  });
  router.delete('/api/session', async (req, res) => {
    await signOut(req, res);
    res.status(204).end();
  });
  router.post('/api/session/cart', async (req, res) => {
    await addToCart(req);
    res.json(await describe(req));
  });
  router.post('/api/session/checkout', async (req, res) => {
    const order = await checkout(req);
    res.json({ order, ...(await describe(req)) });
  });

  return router;
}

function cartView(cart: Cart) {
  const list = (items: Record<string, number>) =>
    Object.entries(items)
      .map(([productId, quantity]) => ({ productId: Number(productId), quantity }))
      .sort((a, b) => a.productId - b.productId);
  return { items: list(cart.items), orders: cart.orders, lastOrder: cart.lastOrder && list(cart.lastOrder) };
}
