import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { connectionOptions, createRedisServices, retryPlan } from '../../src/redis';
import { failures } from '../../scripts/lib/load';
import { clusterCheck } from '../../scripts/lib/shards';
import { describeKill, killMasterUnderLoad } from '../support/master-kill';
import { connectAs } from '../support/cluster-client';
import { clusterBody, keyBody } from '../support/http';
import { silentLogger, testConfig } from '../support/fakes';
import { runClusterScript, startFresh, testCluster } from '../support/native-cluster';

// Its own cluster, TLS only and with users, as the compose TLS switch runs it;
// native-cluster.sh makes the certificates in its directory. A master is killed here.
const PASSWORDS = { REDIS_PASSWORD: 'admin horse', REDIS_APP_PASSWORD: 'app battery', REDIS_COMMANDER_PASSWORD: 'commander staple' };
const cluster = testCluster(7200, { ...PASSWORDS, REDIS_TLS: '1' });
const caFile = path.join(cluster.dir, 'tls', 'ca.crt');
const startupNodes = cluster.nodes
  .slice(0, 3)
  .map(({ host, port }) => `${host}:${port}`)
  .join(',');
const appConfig = () =>
  testConfig({
    REDIS_CLUSTER_URLS: startupNodes,
    REDIS_USERNAME: 'app',
    REDIS_PASSWORD: PASSWORDS.REDIS_APP_PASSWORD,
    REDIS_TLS: '1',
    REDIS_TLS_CA_FILE: caFile,
  });

/** What a node answers a plain-text PING with, if anything, before it closes the connection. */
function plainTextPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    let answer = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('no answer and no close within 3 s')));
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(answer) : reject(error)));
  });
}

beforeAll(() => {
  startFresh(cluster);
});

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
});

describe('a cluster started with REDIS_TLS=1', () => {
  it('answers no plain-text client', async () => {
    expect(await plainTextPing(cluster.basePort)).not.toContain('PONG');
  });

  it('answers no TLS client that does not trust its CA', async () => {
    const { tls: _trusting, ...rest } = connectionOptions(appConfig().redis);
    const node = new Redis({
      host: '127.0.0.1',
      port: cluster.basePort,
      ...rest,
      tls: {},
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const seen: { error?: NodeJS.ErrnoException } = {};
    node.on('error', (error: NodeJS.ErrnoException) => (seen.error ??= error));
    await expect(node.ping()).rejects.toThrow();
    expect(seen.error?.code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    node.disconnect();
  });

  it('serves the app over TLS, checking every node certificate, replicas included', async () => {
    const config = appConfig();
    const client = await connectAs(config.redis);
    try {
      const app = createApp({ ...createRedisServices(client, config.redis), logger: silentLogger, config });
      await request(app).put('/api/keys/encrypted').send({ value: 'yes' }).expect(200);
      expect(keyBody(await request(app).get('/api/keys/encrypted').expect(200)).value).toBe('yes');
      const overview = clusterBody(await request(app).get('/api/cluster').expect(200));
      expect(overview.nodes.filter((node) => node.reachable)).toHaveLength(6);
    } finally {
      await client.quit();
    }
  });

  it('passes redis-cli --cluster check over TLS as admin, as the scripts run it', async () => {
    const check = await clusterCheck(`127.0.0.1:${cluster.basePort}`, cluster.env);
    expect(check.problems).toEqual([]);
    expect(check.clean).toBe(true);
  });

  it('costs no failed request when a master is killed under load', async () => {
    const config = appConfig();
    const client = await connectAs(config.redis);
    const probe = new Redis({
      host: '127.0.0.1',
      port: cluster.basePort + 1,
      ...connectionOptions({ ...config.redis, username: 'admin', password: PASSWORDS.REDIS_PASSWORD }),
    });
    probe.on('error', () => {});
    try {
      const app = createApp({ ...createRedisServices(client, config.redis), logger: silentLogger, config });
      const kill = await killMasterUnderLoad(cluster, app, probe, 'tls');
      const { promotedMs: promoted, result } = kill;
      console.info(describeKill('TLS, users', kill));
      expect(failures(result)).toBe(0);
      expect(result.requests).toBeGreaterThan(100);
      expect(promoted).toBeLessThan(retryPlan(config.redis.clusterNodeTimeoutMs).failoverMs);
      const keys = [...result.acknowledged.keys()];
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => result.acknowledged.get(key)));
    } finally {
      await Promise.all([client.quit(), probe.quit()]);
    }
  }, 60_000);
});
