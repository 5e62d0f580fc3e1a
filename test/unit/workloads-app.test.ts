import request from 'supertest';
import { createApp } from '../../src/app';
import { RedisUnavailableError } from '../../src/store';
import { FakeClusterView, FakeStore, silentLogger } from '../support/fakes';
import { fakeWorkloads } from '../support/workload-fakes';

function setup(env: Record<string, string> = {}) {
  const fakes = fakeWorkloads({ RATE_LIMIT_WRITES: '3', ...env });
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (msg: string) => warnings.push(msg) };
  const app = createApp({ store: new FakeStore(), view: new FakeClusterView(), logger, config: fakes.config, workloads: fakes.workloads });
  return { app, warnings, ...fakes };
}

interface ProductBody {
  product: { id: number; name: string; priceCents: number; version: number };
  cache: string;
}
interface SessionBody {
  signedIn: boolean;
  user?: { id: string; name: string };
  cart?: { items: { productId: number; quantity: number }[]; orders: number };
  keys?: { keys: { key: string; slot: number }[]; sameSlot: boolean };
}
const productBody = (res: request.Response) => res.body as ProductBody;
const sessionBody = (res: request.Response) => res.body as SessionBody;
const errorOf = (res: request.Response) => (res.body as { error: string }).error;

describe('cache-aside API', () => {
  it('answers a miss, then a hit, with the same product', async () => {
    const { app, origin } = setup();

    const miss = await request(app).get('/api/products/42').expect(200);
    const hit = await request(app).get('/api/products/42').expect(200);

    expect(productBody(miss).cache).toBe('miss');
    expect(productBody(hit)).toMatchObject({ cache: 'hit', product: productBody(miss).product });
    expect(origin.reads).toBe(1);
  });

  it('answers 404 for a product the origin does not have, and caches that answer', async () => {
    const { app, origin } = setup();

    await request(app).get('/api/products/5000').expect(404);
    const again = await request(app).get('/api/products/5000').expect(404);

    expect(again.body).toEqual({ error: 'There is no product 5000.', cache: 'hit' });
    expect(origin.reads).toBe(1);
  });

  it.each(['0', 'abc', '1e3', '12345678901', '-1'])('refuses the product id %p with 400', async (id) => {
    const { app, origin } = setup();
    const res = await request(app).get(`/api/products/${id}`).expect(400);
    expect(errorOf(res)).toContain('whole number');
    expect(origin.reads).toBe(0);
  });

  it('updates the origin and drops the cached copy', async () => {
    const { app } = setup({ RATE_LIMIT_WRITES: '100' });
    await request(app).get('/api/products/3').expect(200);

    const put = await request(app).put('/api/products/3').send({ name: 'Blue kettle', priceCents: 1299 }).expect(200);
    const read = await request(app).get('/api/products/3').expect(200);

    expect(productBody(put).product).toMatchObject({ name: 'Blue kettle', priceCents: 1299, version: 1 });
    expect(productBody(read)).toMatchObject({ cache: 'miss', product: { name: 'Blue kettle' } });
  });

  it.each([
    [{}, 'Send "name", "priceCents" or both'],
    [{ name: '' }, 'Send "name", "priceCents" or both'],
    [{ name: 'x'.repeat(81) }, '1 to 80 characters'],
    [{ name: 'a\u0000b' }, 'control characters'],
    [{ priceCents: -5 }, 'whole number of cents'],
    [{ priceCents: 1.5 }, 'whole number of cents'],
    [{ priceCents: '12.50' }, 'whole number of cents'],
  ])('refuses the update %o with 400', async (body, message) => {
    const { app, origin } = setup();
    const res = await request(app).put('/api/products/3').send(body).expect(400);
    expect(errorOf(res)).toContain(message);
    expect(origin.updates.size).toBe(0);
  });

  it('answers 503 with Retry-After when the cached copy of an update cannot be dropped', async () => {
    const { app, cacheStore } = setup();
    cacheStore.fail = new RedisUnavailableError('down');

    const res = await request(app).put('/api/products/3').send({ name: 'x' }).expect(503);

    expect(res.headers['retry-after']).toBe('2');
  });

  it('serves reads from the origin, never 503, while Redis is unavailable', async () => {
    const { app, cacheStore, warnings } = setup();
    cacheStore.fail = new RedisUnavailableError('down');

    const reads = await Promise.all([1, 2, 3].map((id) => request(app).get(`/api/products/${id}`)));

    expect(reads.map((r) => [r.status, productBody(r).cache])).toEqual([
      [200, 'bypass'],
      [200, 'bypass'],
      [200, 'bypass'],
    ]);
    expect(warnings).toHaveLength(1);
  });

  it('reports origin calls and hit and miss latency', async () => {
    const { app } = setup();
    await request(app).get('/api/products/1');
    await request(app).get('/api/products/1');

    const res = await request(app).get('/api/cache').expect(200);

    expect(res.body).toMatchObject({ originReads: 1, outcomes: { hit: 1, miss: 1 }, redis: 'available' });
  });
});

describe('cache-aside page', () => {
  it('shows the outcome, the origin calls and both keys on one slot', async () => {
    const { app } = setup();
    await request(app).get('/products?id=42');

    const res = await request(app).get('/products?id=42').expect(200);

    expect(res.text).toContain('data-outcome="hit"');
    expect(res.text).toContain('data-origin-reads="1"');
    expect(res.text).toContain('data-same-slot="true"');
    expect(res.text).toContain('<code>cache:{product:42}</code>');
    expect(res.text).toContain('href="/static/workloads.css"');
  });

  it('answers 404 for a product the origin does not have, and says the answer is cached', async () => {
    const { app } = setup();
    const res = await request(app).get('/products?id=5000').expect(404);
    expect(res.text).toContain('The origin has no product 5000');
  });

  it('shows a bad id as a problem on the page, with what was typed', async () => {
    const { app } = setup();
    const res = await request(app).get('/products?id=%3Cb%3E').expect(400);
    expect(res.text).toContain('A product id is a whole number');
    expect(res.text).toContain('value="&lt;b&gt;"');
  });

  it('saves an update from the form and reads it back as a miss', async () => {
    const { app } = setup();

    const saved = await request(app).post('/products/5').type('form').send({ name: 'Green lamp' }).expect(303);
    const page = await request(app).get(saved.headers.location!).expect(200);

    expect(page.text).toContain('data-name="Green lamp"');
    expect(page.text).toContain('data-outcome="miss"');
  });
});

describe('sessions', () => {
  it('signs in with a name, keeps the user across requests and signs out', async () => {
    const { app } = setup({ RATE_LIMIT_WRITES: '100' });
    const agent = request.agent(app);

    const signedIn = await agent.post('/api/session').send({ name: 'Ada Lovelace' }).expect(200);
    const again = await agent.get('/api/session').expect(200);
    await agent.delete('/api/session').expect(204);
    const after = await agent.get('/api/session').expect(200);

    expect(sessionBody(signedIn).user).toEqual({ id: 'ada-lovelace', name: 'Ada Lovelace' });
    expect(sessionBody(again).user).toEqual({ id: 'ada-lovelace', name: 'Ada Lovelace' });
    expect(sessionBody(after)).toEqual({ signedIn: false });
  });

  it('sets an httpOnly, SameSite=Lax cookie, sent again (with a new expiry) on every answer', async () => {
    const { app } = setup();
    const agent = request.agent(app);

    const signIn = await agent.post('/api/session').send({ name: 'ada' }).expect(200);
    const read = await agent.get('/api/session').expect(200);

    for (const res of [signIn, read]) {
      const cookie = String(res.headers['set-cookie']);
      expect(cookie).toMatch(/^sid=/);
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Lax');
      expect(cookie).toContain('Expires=');
      expect(cookie).not.toContain('Secure');
    }
  });

  it('marks the cookie Secure when the request came over HTTPS', async () => {
    const { app } = setup();
    app.set('trust proxy', 'loopback');
    const res = await request(app).post('/api/session').set('X-Forwarded-Proto', 'https').send({ name: 'ada' }).expect(200);
    expect(String(res.headers['set-cookie'])).toContain('Secure');
  });

  it('gives the session a new id at sign-in', async () => {
    const { app } = setup();
    const agent = request.agent(app);
    const first = await agent.post('/api/session').send({ name: 'ada' }).expect(200);
    const second = await agent.post('/api/session').send({ name: 'grace' }).expect(200);
    const id = (res: request.Response) => /sid=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
    expect(id(second)).not.toEqual(id(first));
    expect(sessionBody(second).user?.id).toBe('grace');
  });

  it.each(['', '   ', '{evil}', 'x'.repeat(33), 'a\nb'])('refuses the name %p with 400', async (name) => {
    const { app } = setup();
    const res = await request(app).post('/api/session').send({ name }).expect(400);
    expect(errorOf(res)).toContain('name of 1 to 32');
  });

  it('keeps a cart per user, on keys that share one slot, and checks it out into one order', async () => {
    const { app } = setup({ RATE_LIMIT_WRITES: '100' });
    const agent = request.agent(app);
    await agent.post('/api/session').send({ name: 'ada' }).expect(200);

    await agent.post('/api/session/cart').send({ productId: 7, quantity: 2 }).expect(200);
    const cart = await agent.post('/api/session/cart').send({ productId: '7', quantity: '1' }).expect(200);
    const checkout = await agent.post('/api/session/checkout').expect(200);
    const empty = await agent.post('/api/session/checkout').expect(409);

    expect(sessionBody(cart).cart?.items).toEqual([{ productId: 7, quantity: 3 }]);
    expect(sessionBody(cart).keys?.keys.map((k) => k.key)).toEqual(['{user:ada}:cart', '{user:ada}:orders']);
    expect(sessionBody(cart).keys?.sameSlot).toBe(true);
    expect(checkout.body).toMatchObject({ order: 1, cart: { items: [], orders: 1 } });
    expect(errorOf(empty)).toContain('The cart is empty');
  });

  it.each([
    [{ productId: 5000 }, 404, 'There is no product 5000'],
    [{ productId: 'x' }, 400, 'whole number'],
    [{ productId: 1, quantity: 11 }, 400, '"quantity"'],
  ])('refuses the cart item %o', async (body, status, message) => {
    const { app } = setup({ RATE_LIMIT_WRITES: '100' });
    const agent = request.agent(app);
    await agent.post('/api/session').send({ name: 'ada' }).expect(200);
    const res = await agent.post('/api/session/cart').send(body).expect(status);
    expect(errorOf(res)).toContain(message);
  });

  it('asks for a sign-in before a cart write with 401', async () => {
    const { app } = setup();
    const res = await request(app).post('/api/session/cart').send({ productId: 1 }).expect(401);
    expect(errorOf(res)).toContain('Sign in first');
  });

  it('answers 503 with Retry-After when the session store is unavailable', async () => {
    const { app, sessionStore } = setup();
    const agent = request.agent(app);
    await agent.post('/api/session').send({ name: 'ada' }).expect(200);
    sessionStore.get = (_sid, callback) => callback(new RedisUnavailableError('down'));

    const res = await agent.get('/api/session').expect(503);

    expect(res.headers['retry-after']).toBe('2');
    expect(errorOf(res)).toContain('not answering');
  });

  it('shows the signed-in user, the cart and its slot on the page', async () => {
    const { app } = setup();
    const agent = request.agent(app);
    await agent.post('/session').type('form').send({ name: 'Ada' }).expect(303);
    await agent.post('/session/cart').type('form').send({ productId: '3', quantity: '2' }).expect(303);

    const page = await agent.get('/session').expect(200);

    expect(page.text).toContain('data-signed-in="ada"');
    expect(page.text).toContain('data-product="3"');
    expect(page.text).toContain('data-same-slot="true"');
    expect(page.text).toContain('<code>{user:ada}</code>');
  });

  it('keeps a bad name in the form and says what is wrong', async () => {
    const { app } = setup();
    const res = await request(app).post('/session').type('form').send({ name: '<b>' }).expect(400);
    expect(res.text).toContain('value="&lt;b&gt;"');
    expect(res.text).toContain('role="alert"');
  });
});

describe('rate limits', () => {
  it('allows the configured writes, then answers 429 with the standard headers', async () => {
    const { app } = setup({ RATE_LIMIT_WRITES: '3', RATE_LIMIT_WINDOW_SECONDS: '60' });

    const allowed = [];
    for (let i = 0; i < 3; i += 1) allowed.push((await request(app).post('/api/limits/try')).status);
    const refused = await request(app).post('/api/limits/try').expect(429);

    expect(allowed).toEqual([200, 200, 200]);
    expect(refused.headers['ratelimit']).toMatch(/^"3-in-1min"; r=0; t=\d+$/);
    expect(refused.headers['ratelimit-policy']).toMatch(/^"3-in-1min"; q=3; w=60; pk=:/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(errorOf(refused)).toContain('Too many writes: 3 per 60 s');
  });

  it('counts every write to the API, and no read', async () => {
    const { app } = setup({ RATE_LIMIT_WRITES: '2' });

    for (let i = 0; i < 5; i += 1) await request(app).get('/api/products/1').expect(200);
    await request(app).put('/api/keys/a').send({ value: 'v' }).expect(200);
    await request(app).put('/api/products/1').send({ name: 'x' }).expect(200);
    await request(app).delete('/api/keys/a').expect(429);
    const status = await request(app).get('/api/limits').expect(200);

    expect(status.body).toMatchObject({ used: 3, remaining: 0, limit: 2, client: expect.any(String) as string });
  });

  it('refuses a write from the page with 429 and says so on the page', async () => {
    const { app } = setup({ RATE_LIMIT_WRITES: '1' });
    await request(app).post('/limits').expect(200);
    const res = await request(app).post('/limits').expect(429);
    expect(res.text).toContain('data-refused="true"');
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('lets writes through while the counters are unavailable, and warns once', async () => {
    const { app, rateLimitStore, warnings } = setup({ RATE_LIMIT_WRITES: '1' });
    rateLimitStore.increment = () => Promise.reject(new RedisUnavailableError('down'));
    rateLimitStore.get = () => Promise.reject(new RedisUnavailableError('down'));

    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await request(app).post('/api/limits/try')).status);

    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(warnings).toEqual(['rate-limit counters unavailable: writes go through unlimited until Redis answers again']);
  });

  it('answers any other store failure as a server error, not as a pass', async () => {
    const { app, rateLimitStore } = setup();
    rateLimitStore.increment = () => Promise.reject(new Error('a bug'));
    await request(app).post('/api/limits/try').expect(500);
  });
});
