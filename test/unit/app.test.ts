import calculateSlot from 'cluster-key-slot';
import request from 'supertest';
import { createApp } from '../../src/app';
import { RedisUnavailableError, WrongTypeError } from '../../src/store';
import { fakeNode, FakeClusterView, FakeStore, silentLogger, testConfig } from '../support/fakes';

function setup(env: Record<string, string> = {}) {
  const store = new FakeStore();
  const view = new FakeClusterView();
  const app = createApp({ store, view, logger: silentLogger, config: testConfig({ MAX_KEY_BYTES: '16', MAX_VALUE_BYTES: '64', ...env }) });
  return { store, view, app };
}

describe('home page', () => {
  it('shows the save and search forms', async () => {
    const { app } = setup();
    const res = await request(app).get('/').expect(200);
    expect(res.text).toContain('action="/save-data"');
    expect(res.text).toContain('action="/search"');
  });
});

describe('saving', () => {
  it('stores the value under the key and says so', async () => {
    const { app, store } = setup();
    const res = await request(app).post('/save-data').type('form').send({ key: 'user:1', value: 'Ada' }).expect(200);
    expect(store.data.get('user:1')?.value).toBe('Ada');
    expect(res.text).toContain('data-result="saved"');
  });

  it('escapes markup in keys and values instead of rendering it', async () => {
    const { app } = setup();
    const res = await request(app).post('/save-data').type('form').send({ key: '<i>k</i>', value: '<script>x()</script>' }).expect(200);
    expect(res.text).not.toContain('<script>x()');
    expect(res.text).toContain('&lt;script&gt;x()&lt;/script&gt;');
  });

  it.each([
    ['an empty key', { key: '', value: 'v' }, 400, /must not be empty/],
    ['a key of only spaces', { key: '   ', value: 'v' }, 400, /must not be empty/],
    ['a key over the limit', { key: 'k'.repeat(17), value: 'v' }, 413, /at most 16 bytes/],
    ['a value over the limit', { key: 'k', value: 'é'.repeat(33) }, 413, /66 bytes.*at most 64 bytes/],
  ])('refuses %s, stores nothing and keeps the typed input', async (_name, body, status, message) => {
    const { app, store } = setup();
    const res = await request(app).post('/save-data').type('form').send(body).expect(status);
    expect(res.text).toMatch(message);
    expect(store.data.size).toBe(0);
    expect(res.text).toContain(`value="${body.key}"`);
  });

  it('refuses a repeated field with 400', async () => {
    const { app, store } = setup();
    const res = await request(app).post('/save-data').type('form').send('key=a&key=b&value=v').expect(400);
    expect(res.text).toContain('must be a single text field');
    expect(store.data.size).toBe(0);
  });

  it('refuses a body with no form content type with 415', async () => {
    const { app } = setup();
    const res = await request(app).post('/save-data').set('Content-Type', 'text/plain').send('key=a').expect(415);
    expect(res.text).toContain('application/x-www-form-urlencoded');
  });

  it('refuses malformed JSON with 400 and no stack trace', async () => {
    const { app } = setup({ NODE_ENV: 'production' });
    const res = await request(app).post('/save-data').set('Content-Type', 'application/json').send('{"key":').expect(400);
    expect(res.text).toContain('malformed');
    expect(res.text).not.toMatch(/at .*\.js:\d+/);
  });

  it('refuses a body larger than the parser limit with 413', async () => {
    const { app, store } = setup();
    await request(app)
      .post('/save-data')
      .type('form')
      .send({ key: 'k', value: 'v'.repeat(10_000) })
      .expect(413);
    expect(store.data.size).toBe(0);
  });

  it('answers 503 with Retry-After and keeps the form filled when Redis is unavailable', async () => {
    const { app, store } = setup();
    store.fail = new RedisUnavailableError('down');
    const res = await request(app).post('/save-data').type('form').send({ key: 'k', value: 'kept' }).expect(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.text).toContain('try again');
    expect(res.text).toContain('kept</textarea>');
  });
});

describe('searching', () => {
  it('shows the value of a saved key', async () => {
    const { app, store } = setup();
    store.data.set('city', { value: 'Lisbon', ttl: undefined });
    const res = await request(app).post('/search').type('form').send({ key: 'city' }).expect(200);
    expect(res.text).toContain('data-result="found"');
    expect(res.text).toContain('Lisbon');
  });

  it('shows where a key lives: slot, master and replica', async () => {
    const { app, store } = setup();
    store.data.set('user:42', { value: 'v', ttl: 30 });
    const res = await request(app).post('/search').type('form').send({ key: 'user:42' }).expect(200);
    expect(res.text).toMatch(/data-slot="\d+"/);
    expect(res.text).toMatch(/data-master="10\.0\.0\.1[123]:6379"/);
    expect(res.text).toMatch(/data-replica="10\.0\.0\.1[456]:6379"/);
    expect(res.text).toContain('data-ttl="30"');
  });

  it('explains the hash tag of a key that has one', async () => {
    const { app } = setup();
    const res = await request(app).post('/save-data').type('form').send({ key: '{user1}:a', value: 'v' }).expect(200);
    expect(res.text).toContain('{user1}:profile');
    expect(res.text).toContain('Only the hash tag <code>user1</code>');
  });

  it('saves with an expiry from the form', async () => {
    const { app, store } = setup();
    await request(app).post('/save-data').type('form').send({ key: 'otp', value: '1234', ttl: '90' }).expect(200);
    expect(store.data.get('otp')).toEqual({ value: '1234', ttl: 90 });
  });

  it('says plainly when a key does not exist', async () => {
    const { app } = setup();
    const res = await request(app).post('/search').type('form').send({ key: 'nope' }).expect(200);
    expect(res.text).toContain('data-result="missing"');
  });

  it('explains a key that holds a non-string value with 409', async () => {
    const { app, store } = setup();
    store.fail = new WrongTypeError('h');
    const res = await request(app).post('/search').type('form').send({ key: 'h' }).expect(409);
    expect(res.text).toContain('not a string');
  });
});

describe('cluster page', () => {
  /** The markup of each shard's group of rows, by master id. */
  const shardGroups = (html: string): Map<string, string> =>
    new Map(
      [...html.matchAll(/<tbody class="shard" data-shard-master-id="([^"]+)">([\s\S]*?)<\/tbody>/g)].map(([, id, body]) => [id!, body!]),
    );
  /** The slot map's ranges: [master id, "start-end", fill]. */
  const mapRanges = (html: string): string[][] =>
    [...html.matchAll(/<rect [^>]*fill="([^"]+)" data-master-id="([^"]+)" data-slots="([^"]+)"/g)].map(([, fill, id, slots]) => [
      id!,
      slots!,
      fill!,
    ]);

  it('groups the nodes by shard: each master with its replicas, in slot order', async () => {
    const { app } = setup();
    const res = await request(app).get('/cluster').expect(200);
    const groups = shardGroups(res.text);
    expect([...groups.keys()]).toEqual(['master-1', 'master-2', 'master-3']);
    const rows = (id: string) =>
      [...groups.get(id)!.matchAll(/data-node="([^"]+)" data-role="(\w+)"/g)].map(([, address, role]) => `${role} ${address}`);
    expect(rows('master-1')).toEqual(['master 10.0.0.11:6379', 'replica 10.0.0.14:6379', 'replica 10.0.0.17:6379']);
    expect(rows('master-2')).toEqual(['master 10.0.0.12:6379', 'replica 10.0.0.15:6379']);
    expect(groups.get('master-1')).toContain('5461 slots (33.3 %)');
    expect(res.text).toMatch(/10\.0\.0\.17:6379[\s\S]*?failed[\s\S]*?unreachable/);
  });

  it('names a replica by its address and shows node ids short, with the whole id in the tooltip', async () => {
    const { app, view } = setup();
    view.nodes[0]!.id = 'f'.repeat(40);
    view.nodes[3]!.masterId = 'f'.repeat(40);
    const res = await request(app).get('/cluster').expect(200);
    expect(res.text).toContain(`<code title="${'f'.repeat(40)}">ffffffff</code>`);
    expect(res.text).not.toMatch(/>f{40}</);
  });

  it("draws each master's slot ranges on the map in the colour of its rows", async () => {
    const { app } = setup();
    const res = await request(app).get('/cluster').expect(200);
    const ranges = mapRanges(res.text);
    expect(ranges.map(([id, slots]) => `${id} ${slots}`)).toEqual(['master-1 0-5460', 'master-2 5461-10922', 'master-3 10923-16383']);
    expect(new Set(ranges.map(([, , fill]) => fill)).size).toBe(3);
    for (const [id, , fill] of ranges) {
      expect(shardGroups(res.text).get(id!)).toContain(`fill="${fill}" data-master-id="${id}"`);
    }
  });

  it("keeps a master's colour when another master takes some of its slots", async () => {
    const { app, view } = setup();
    const before = mapRanges((await request(app).get('/cluster')).text);
    view.nodes[0]!.slots = ['0-4999'];
    view.nodes[1]!.slots = ['5000-10922'];
    const after = mapRanges((await request(app).get('/cluster')).text);
    expect(after.map(([id, slots]) => `${id} ${slots}`)).toEqual(['master-1 0-4999', 'master-2 5000-10922', 'master-3 10923-16383']);
    expect(after.map(([, , fill]) => fill)).toEqual(before.map(([, , fill]) => fill));
  });

  it('marks the slots being moved on the map and lists them by address', async () => {
    const { app, view } = setup();
    view.migrations = [5461, 5462, 5463].map((slot) => ({ slot, from: 'master-2', to: 'master-1' }));
    const res = await request(app).get('/cluster').expect(200);
    expect(res.text).toContain('<g data-moving-slots="5461-5463" data-from="master-2" data-to="master-1">');
    expect(res.text).toMatch(/Slot 5461-5463 moving from <code>10\.0\.0\.12:6379<\/code> to <code>10\.0\.0\.11:6379<\/code>/);
  });

  it('shows a new master with no slots yet as a shard of its own, after the others', async () => {
    const { app, view } = setup();
    view.nodes.push(fakeNode({ id: 'master-4', address: '10.0.0.18:6379', role: 'master' }));
    const res = await request(app).get('/cluster').expect(200);
    expect([...shardGroups(res.text).keys()]).toEqual(['master-1', 'master-2', 'master-3', 'master-4']);
    expect(shardGroups(res.text).get('master-4')).toContain('no slots');
  });

  it('refreshes its live part from a script file, with nothing inline for the CSP to refuse', async () => {
    const { app } = setup();
    const res = await request(app).get('/cluster').expect(200);
    expect(res.text).toContain('<div class="live" data-live="/cluster/live" data-live-ms="1000">');
    expect(res.text).toContain('<script src="/static/cluster-live.js" defer></script>');
    expect(res.text).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(res.text).not.toMatch(/\sstyle=/);
    const script = await request(app).get('/static/cluster-live.js').expect(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
  });

  it('serves the live part alone, without the layout', async () => {
    const { app } = setup();
    const res = await request(app).get('/cluster/live').expect(200);
    expect(res.text).toContain('data-cluster-state="ok"');
    expect(res.text).toContain('data-slot-map');
    expect(res.text).not.toContain('<html');
    expect(res.text).not.toContain('data-live=');
  });

  it.each(['/cluster', '/cluster/live'])(
    'answers %s with 503, says why and keeps refreshing while the cluster cannot be read',
    async (path) => {
      const { app, view } = setup();
      view.fail = new RedisUnavailableError('down');
      const res = await request(app).get(path).expect(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.text).toContain('role="alert"');
      expect(res.text).toContain('not answering');
      if (path === '/cluster') expect(res.text).toContain('data-live="/cluster/live"');
    },
  );
});

describe('the key on the slot map', () => {
  it.each([
    ['saving', '/save-data', { key: 'user:42', value: 'v' }],
    ['searching', '/search', { key: 'user:42' }],
  ])("marks the key's slot on the map after %s, inside its master's range", async (_name, path, form) => {
    const { app, view } = setup();
    const res = await request(app).post(path).type('form').send(form).expect(200);
    const slot = calculateSlot('user:42');
    expect(res.text).toContain(`data-key-slot="${slot}"`);
    const master = (await view.locate('user:42')).master!;
    const owner = [...res.text.matchAll(/data-master-id="([^"]+)" data-slots="(\d+)-(\d+)"/g)].find(
      ([, , start, end]) => slot >= Number(start) && slot <= Number(end),
    );
    expect(owner?.[1]).toBe(master.id);
  });

  it('still shows the key when the map cannot be read', async () => {
    const { app, view, store } = setup();
    store.data.set('user:42', { value: 'v', ttl: undefined });
    view.shards = () => Promise.reject(new RedisUnavailableError('down'));
    const res = await request(app).post('/search').type('form').send({ key: 'user:42' }).expect(200);
    expect(res.text).toContain('data-result="found"');
    expect(res.text).not.toContain('data-key-slot');
  });
});

describe('errors', () => {
  it('answers unknown paths with 404', async () => {
    const { app } = setup();
    await request(app).get('/no/such/page').expect(404);
  });

  it('hides the details of an unexpected failure outside development', async () => {
    const { app, store } = setup({ NODE_ENV: 'production' });
    store.fail = new Error('secret internals');
    const res = await request(app).post('/search').type('form').send({ key: 'k' }).expect(500);
    expect(res.text).not.toContain('secret internals');
  });

  it('shows the stack of an unexpected failure in development', async () => {
    const { app, store } = setup({ NODE_ENV: 'development' });
    store.fail = new Error('visible internals');
    const res = await request(app).post('/search').type('form').send({ key: 'k' }).expect(500);
    expect(res.text).toContain('visible internals');
  });

  it('sets the full set of security headers on pages', async () => {
    const { app } = setup();
    const res = await request(app).get('/');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("style-src 'self';");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.text).toContain('<link rel="stylesheet" href="/static/app.css">');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('serves the stylesheet with a cache lifetime and the page headers', async () => {
    const { app } = setup();
    const res = await request(app).get('/static/app.css').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/css/);
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text).toContain('body {');
  });

  it.each(['/static/', '/static/../package.json', '/static/%2e%2e/package.json'])('serves nothing else from disk: %s', async (path) => {
    const { app } = setup();
    const res = await request(app).get(path);
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('"dependencies"');
  });

  it.each(['/api/keys/k', '/api/nothing-here'])('keeps the headers that matter to JSON on %s, errors included', async (path) => {
    const { app, store } = setup();
    store.data.set('k', { value: 'v', ttl: undefined });
    const res = await request(app).get(path);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['x-frame-options']).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('/healthz', () => {
  it('is ok while Redis answers', async () => {
    const { app } = setup();
    await request(app).get('/healthz').expect(200, { status: 'ok' });
  });

  it('is 503 while Redis does not', async () => {
    const { app, store } = setup();
    store.fail = new RedisUnavailableError('down');
    await request(app).get('/healthz').expect(503);
  });
});
