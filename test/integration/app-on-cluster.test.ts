import { Cluster, type Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createRedisStore } from '../../src/store';
import { connectCluster, connectNode, eventually, nodesForKey } from '../support/cluster-client';
import { silentLogger, testConfig } from '../support/fakes';
import { SHARED_CLUSTER } from '../support/native-cluster';

let client: Cluster;
const plain: Redis[] = [];
const node = (port: number) => {
  const connection = connectNode(port);
  plain.push(connection);
  return connection;
};

function appOn(cluster: Cluster, deadlineMs = 5000) {
  return createApp({ store: createRedisStore(cluster, { deadlineMs }), logger: silentLogger, config: testConfig() });
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

  it('says a key that was never saved is not there', async () => {
    const res = await request(appOn(client)).post('/search').type('form').send({ key: `integration:absent:${Date.now()}` }).expect(200);
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
      const res = await request(appOn(unreachable, 500)).post('/save-data').type('form').send({ key: 'k', value: 'v' }).expect(503);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.text).toContain('not answering');
      await request(appOn(unreachable, 500)).get('/healthz').expect(503);
    } finally {
      unreachable.disconnect();
    }
  });
});
