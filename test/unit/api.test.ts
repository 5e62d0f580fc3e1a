import request from 'supertest';
import { createApp } from '../../src/app';
import { RedisUnavailableError } from '../../src/store';
import { asIs, FakeClusterView, FakeStore, silentLogger, testConfig } from '../support/fakes';
import { clusterBody, errorBody, keyBody, scanBody } from '../support/http';

function setup() {
  const store = new FakeStore();
  const view = new FakeClusterView();
  const app = createApp({ store, view, logger: silentLogger, config: testConfig({ MAX_KEY_BYTES: '32', MAX_VALUE_BYTES: '64' }) });
  return { store, view, app };
}

describe('GET/PUT/DELETE /api/keys/:key', () => {
  it('stores a value with a TTL and reads it back with its slot and nodes', async () => {
    const { app, store } = setup();
    await request(app).put('/api/keys/user:7').send({ value: 'Grace', ttl: 60 }).expect(200);
    expect(store.data.get('user:7')).toEqual({ value: 'Grace', ttl: 60 });

    const res = await request(app).get('/api/keys/user:7').expect(200);
    expect(keyBody(res)).toMatchObject({ key: 'user:7', value: 'Grace', ttl: 60 });
    expect(keyBody(res).master?.address).toMatch(/:\d+$/);
    expect(keyBody(res).slot).toBeGreaterThanOrEqual(0);
    expect(keyBody(res).replicas).toHaveLength(1);
  });

  it('answers 404 in JSON for a missing key', async () => {
    const { app } = setup();
    const res = await request(app).get('/api/keys/nothing').expect(404);
    expect(res.body).toEqual({ error: 'There is no key "nothing".' });
  });

  it('deletes a key with 204, then 404', async () => {
    const { app, store } = setup();
    store.data.set('gone', { value: 'x', ttl: undefined });
    await request(app).delete('/api/keys/gone').expect(204);
    await request(app).delete('/api/keys/gone').expect(404);
  });

  it.each([
    [{ ttl: 5 }, 400, 'string field "value"'],
    [{ value: 'v', ttl: 0 }, 400, 'TTL must be a whole number'],
    [{ value: 'v', ttl: 'soon' }, 400, 'TTL must be a whole number'],
    [{ value: 'v', ttl: 1.5 }, 400, 'TTL must be a whole number'],
    [{ value: 'x'.repeat(65) }, 413, 'at most 64 bytes'],
  ])('refuses a bad PUT body %o', async (body, status, message) => {
    const { app, store } = setup();
    const res = await request(app).put('/api/keys/k').send(body).expect(status);
    expect(errorBody(res).error).toContain(message);
    expect(store.data.size).toBe(0);
  });

  it('refuses JSON whose strings are not valid UTF-8 with 400', async () => {
    const { app, store } = setup();
    const body = Buffer.concat([Buffer.from('{"value":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const res = await request(app).put('/api/keys/k').set('content-type', 'application/json').serialize(asIs).send(body).expect(400);
    expect(errorBody(res).error).toContain('not valid UTF-8');
    expect(store.data.size).toBe(0);
  });

  it('refuses a key over the limit in the path with 413', async () => {
    const { app } = setup();
    await request(app)
      .get(`/api/keys/${'k'.repeat(33)}`)
      .expect(413);
  });

  it('answers 503 in JSON with Retry-After when Redis is unavailable', async () => {
    const { app, store } = setup();
    store.fail = new RedisUnavailableError('down');
    const res = await request(app).get('/api/keys/k').expect(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(errorBody(res).error).toContain('try again');
  });
});

describe('GET /api/keys', () => {
  it('pages through matching keys with a cursor', async () => {
    const { app, store } = setup();
    for (const key of ['a:1', 'a:2', 'a:3', 'b:1']) store.data.set(key, { value: 'v', ttl: undefined });
    const first = await request(app).get('/api/keys').query({ match: 'a:*', count: 2 }).expect(200);
    expect(first.body).toEqual({ keys: ['a:1', 'a:2'], cursor: '2' });
    const second = await request(app)
      .get('/api/keys')
      .query({ match: 'a:*', count: 2, cursor: scanBody(first).cursor })
      .expect(200);
    expect(second.body).toEqual({ keys: ['a:3'], cursor: '0' });
  });

  it.each([
    [{ count: 0 }, 'count'],
    [{ count: 5000 }, 'count'],
    [{ match: '' }, 'match'],
    ['count=1&count=2', 'given once'],
  ])('refuses bad query %o with 400', async (query, message) => {
    const { app } = setup();
    const res = await request(app).get('/api/keys').query(query).expect(400);
    expect(errorBody(res).error).toContain(message);
  });
});

describe('cluster state', () => {
  it('serves the overview as JSON', async () => {
    const { app } = setup();
    const res = await request(app).get('/api/cluster').expect(200);
    expect(clusterBody(res).state).toBe('ok');
    expect(clusterBody(res).nodes[0]).toMatchObject({ role: 'master', slots: ['0-5460'], keys: 3 });
  });

  it('keeps every field it served before shards and migrations were added', async () => {
    const { app } = setup();
    const body = clusterBody(await request(app).get('/api/cluster').expect(200));
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['state', 'slotsAssigned', 'knownNodes', 'nodes']));
    for (const node of body.nodes) {
      // masterId and the stats of an unreachable node are undefined, so JSON leaves them out.
      expect(Object.keys(node)).toEqual(expect.arrayContaining(['id', 'address', 'role', 'failed', 'linkState', 'slots', 'reachable']));
    }
  });

  it('lists each shard: its master, its replicas and its slots', async () => {
    const { app } = setup();
    const body = clusterBody(await request(app).get('/api/cluster').expect(200));
    expect(body.shards).toEqual([
      {
        master: { id: 'master-1', address: '10.0.0.11:6379' },
        replicas: [
          { id: 'replica-1', address: '10.0.0.14:6379' },
          { id: 'replica-4', address: '10.0.0.17:6379' },
        ],
        slots: ['0-5460'],
        slotCount: 5461,
      },
      {
        master: { id: 'master-2', address: '10.0.0.12:6379' },
        replicas: [{ id: 'replica-2', address: '10.0.0.15:6379' }],
        slots: ['5461-10922'],
        slotCount: 5462,
      },
      {
        master: { id: 'master-3', address: '10.0.0.13:6379' },
        replicas: [{ id: 'replica-3', address: '10.0.0.16:6379' }],
        slots: ['10923-16383'],
        slotCount: 5461,
      },
    ]);
    expect(body.migrations).toEqual([]);
  });

  it('lists the slots being moved', async () => {
    const { app, view } = setup();
    view.migrations = [{ slot: 5461, from: 'master-2', to: 'master-1' }];
    const body = clusterBody(await request(app).get('/api/cluster').expect(200));
    expect(body.migrations).toEqual([{ slot: 5461, from: 'master-2', to: 'master-1' }]);
  });

  it('answers 503 when the topology cannot be read', async () => {
    const { app, view } = setup();
    view.fail = new RedisUnavailableError('down');
    const res = await request(app).get('/api/cluster').expect(503);
    expect(errorBody(res).error).toContain('not answering');
  });
});
