import { Cluster, type Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createRedisServices } from '../../src/redis';
import { connectCluster, connectNode, eventually, nodesForKey } from '../support/cluster-client';
import { clusterBody, keyBody, scanBody } from '../support/http';
import { silentLogger, testConfig } from '../support/fakes';
import { SHARED_CLUSTER } from '../support/native-cluster';

let client: Cluster;
const plain: Redis[] = [];
const node = (port: number) => {
  const connection = connectNode(port);
  plain.push(connection);
  return connection;
};

function appOn(cluster: Cluster, env: Record<string, string> = {}) {
  const config = testConfig({ ...SHARED_CLUSTER.env, ...env });
  return createApp({ ...createRedisServices(cluster, config.redis), logger: silentLogger, config });
}

beforeAll(async () => {
  client = await connectCluster(SHARED_CLUSTER);
});

afterAll(async () => {
  await Promise.all([client.quit(), ...plain.map((connection) => connection.quit())]);
});

describe('the app on a real six-node cluster', () => {
  it('saves a value that lands on the master owning its slot and is copied to its replica', async () => {
    const key = `integration:save:${Date.now()}`;
    await request(appOn(client)).post('/save-data').type('form').send({ key, value: 'on the right node' }).expect(200);

    const { master, replicas } = await nodesForKey(client, key);
    expect(await node(master).get(key)).toBe('on the right node');
    expect(replicas).toHaveLength(1);
    const replica = node(replicas[0]!);
    await replica.readonly();
    await eventually(async () => ((await replica.get(key)) === 'on the right node' ? true : undefined), 5000, 'replication');
  });

  it('finds a key written straight to its master', async () => {
    const key = `integration:direct:${Date.now()}`;
    const { master } = await nodesForKey(client, key);
    await node(master).set(key, 'written by hand');
    const res = await request(appOn(client)).post('/search').type('form').send({ key }).expect(200);
    expect(res.text).toContain('data-result="found"');
    expect(res.text).toContain('written by hand');
  });

  it('follows MOVED when it starts from a node that does not own the slot', async () => {
    const key = `integration:moved:${Date.now()}`;
    await client.set(key, 'redirected');
    const { master } = await nodesForKey(client, key);
    const other = SHARED_CLUSTER.nodes.find((n) => n.port !== master && n.port < SHARED_CLUSTER.basePort + 3)!;

    await expect(node(other.port).get(key)).rejects.toThrow(/^MOVED \d+ 127\.0\.0\.1:\d+/);

    const fromOther = await connectCluster(SHARED_CLUSTER, [other]);
    try {
      const res = await request(appOn(fromOther)).post('/search').type('form').send({ key }).expect(200);
      expect(res.text).toContain('redirected');
    } finally {
      await fromOther.quit();
    }
  });

  it('shows the master and replica that really hold the key', async () => {
    const key = `integration:where:${Date.now()}`;
    const res = await request(appOn(client)).post('/save-data').type('form').send({ key, value: 'v' }).expect(200);
    const { master, replicas } = await nodesForKey(client, key);
    expect(res.text).toContain(`data-master="127.0.0.1:${master}"`);
    expect(res.text).toContain(`data-replica="127.0.0.1:${replicas[0]}"`);
  });

  it('keeps keys that share a hash tag on one slot, so a multi-key command works on them', async () => {
    const app = appOn(client);
    const a = await request(app).put('/api/keys/{user1}:a').send({ value: '1' }).expect(200);
    const b = await request(app).put('/api/keys/{user1}:b').send({ value: '2' }).expect(200);
    expect(keyBody(a).slot).toBe(keyBody(b).slot);
    expect(await client.mget('{user1}:a', '{user1}:b')).toEqual(['1', '2']);
  });

  it('lists matching keys from every master through the SCAN cursor', async () => {
    const prefix = `integration:scan:${Date.now()}`;
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`);
    await Promise.all(keys.map((key) => client.set(key, 'v')));
    const owners = new Set(await Promise.all(keys.map(async (key) => (await nodesForKey(client, key)).master)));
    expect(owners.size).toBe(3);

    const app = appOn(client);
    const seen: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const res = await request(app)
        .get('/api/keys')
        .query({ match: `${prefix}:*`, count: 1000, cursor })
        .expect(200);
      seen.push(...scanBody(res).keys);
      cursor = scanBody(res).cursor;
      pages += 1;
    } while (cursor !== '0' && pages < 50);
    expect(seen.sort()).toEqual([...keys].sort());
  });

  it('expires a key saved with a TTL', async () => {
    const key = `integration:ttl:${Date.now()}`;
    const app = appOn(client);
    const saved = await request(app).put(`/api/keys/${key}`).send({ value: 'brief', ttl: 1 }).expect(200);
    expect(keyBody(saved).ttl).toBe(1);
    expect(await client.ttl(key)).toBeGreaterThan(0);
    await eventually(async () => ((await client.exists(key)) === 0 ? true : undefined), 3000, 'expiry');
    await request(app).get(`/api/keys/${key}`).expect(404);
  });

  it('reads back the seconds a key has left, and none for a key without expiry', async () => {
    const app = appOn(client);
    const key = `integration:ttl-read:${Date.now()}`;
    await client.set(key, 'for a minute', 'EX', 60);
    await client.set(`${key}:forever`, 'kept');
    const expiring = await request(app).get(`/api/keys/${key}`).expect(200);
    expect(keyBody(expiring).value).toBe('for a minute');
    expect(keyBody(expiring).ttl).toBeGreaterThan(55);
    expect(keyBody(expiring).ttl).toBeLessThanOrEqual(60);
    const forever = await request(app).get(`/api/keys/${key}:forever`).expect(200);
    expect(forever.body).toEqual(expect.objectContaining({ value: 'kept' }));
    expect(forever.body).not.toHaveProperty('ttl');
  });

  it('reports all six nodes, their roles, slots and key counts', async () => {
    const res = await request(appOn(client)).get('/api/cluster').expect(200);
    expect(clusterBody(res).state).toBe('ok');
    expect(clusterBody(res).nodes).toHaveLength(6);
    const { nodes } = clusterBody(res);
    const masters = nodes.filter((n) => n.role === 'master');
    expect(masters).toHaveLength(3);
    for (const node of nodes) {
      expect(node.reachable).toBe(true);
      expect(node.keys).toEqual(expect.any(Number));
      expect(node.memory).toMatch(/^[\d.]+[KMG]?$/);
    }
    expect(masters.flatMap((m) => m.slots).sort()).toEqual(['0-5460', '10923-16383', '5461-10922']);
  });

  it('says a key that was never saved is not there', async () => {
    const res = await request(appOn(client))
      .post('/search')
      .type('form')
      .send({ key: `integration:absent:${Date.now()}` })
      .expect(200);
    expect(res.text).toContain('data-result="missing"');
  });

  it('refuses an empty key without touching Redis', async () => {
    await request(appOn(client)).post('/save-data').type('form').send({ key: ' ', value: 'x' }).expect(400);
    expect(await client.exists(' ')).toBe(0);
  });

  it('answers 409 for a key that holds a hash', async () => {
    const key = `integration:hash:${Date.now()}`;
    await client.hset(key, 'field', 'value');
    const res = await request(appOn(client)).post('/search').type('form').send({ key }).expect(409);
    expect(res.text).toContain('not a string');
  });

  it('answers 503 within its deadline when no node is reachable, and does not crash', async () => {
    // Port 1 on loopback: nothing listens there, so every connection is refused.
    // disconnectTimeout: ioredis otherwise keeps a refused socket's 2 s timer alive after disconnect().
    const unreachable = new Cluster([{ host: '127.0.0.1', port: 1 }], {
      clusterRetryStrategy: () => 100,
      redisOptions: { disconnectTimeout: 50 },
    });
    unreachable.on('error', () => {});
    try {
      const started = Date.now();
      const res = await request(appOn(unreachable, { REDIS_CLUSTER_NODE_TIMEOUT_MS: '100' }))
        .post('/save-data')
        .type('form')
        .send({ key: 'k', value: 'v' })
        .expect(503);
      // Node timeout 100 ms gives a retry budget of 1.2 s and a 2.2 s deadline.
      expect(Date.now() - started).toBeLessThan(4000);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.text).toContain('not answering');
      await request(appOn(unreachable, { REDIS_CLUSTER_NODE_TIMEOUT_MS: '100' }))
        .get('/healthz')
        .expect(503);
    } finally {
      unreachable.disconnect();
    }
  });
});
