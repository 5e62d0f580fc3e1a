import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { clusterOptions, createRedisCluster, createRedisServices } from '../../src/redis';
import { eventually } from '../support/cluster-client';
import { clusterBody, keyBody } from '../support/http';
import { silentLogger, testConfig } from '../support/fakes';
import { runClusterScript, startFresh, testCluster } from '../support/native-cluster';

// Its own cluster, with the users of redis/users.acl, started by the script users run.
const PASSWORDS = { REDIS_PASSWORD: 'admin horse', REDIS_APP_PASSWORD: 'app battery', REDIS_COMMANDER_PASSWORD: 'commander staple' };
const cluster = testCluster(7600, PASSWORDS);
const startupNodes = cluster.nodes
  .slice(0, 3)
  .map(({ host, port }) => `${host}:${port}`)
  .join(',');
/** The app's settings as the given user: what its REDIS_* environment would say. */
const configAs = (username: string, password: string) =>
  testConfig({ REDIS_CLUSTER_URLS: startupNodes, REDIS_USERNAME: username, REDIS_PASSWORD: password });

const clients: { disconnect(): void }[] = [];
/** One node, as the given user, failing fast. */
function nodeAs(username: string | undefined, password: string | undefined, port = cluster.basePort): Redis {
  const node = new Redis({ host: '127.0.0.1', port, username, password, maxRetriesPerRequest: 0, retryStrategy: () => null });
  node.on('error', () => {});
  clients.push(node);
  return node;
}

async function clusterAs(username: string, password: string): Promise<Cluster> {
  const client = new Cluster(configAs(username, password).redis.nodes, clusterOptions(configAs(username, password).redis));
  client.on('error', () => {});
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('end', () => reject(new Error('cluster client ended before it was ready')));
  });
  return client;
}

beforeAll(() => {
  startFresh(cluster);
});

afterEach(() => {
  clients.splice(0).forEach((client) => client.disconnect());
});

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
});

describe('a cluster started with users', () => {
  it('refuses a client that names no user', async () => {
    await expect(nodeAs(undefined, undefined).get('k')).rejects.toThrow(/^NOAUTH/);
  });

  it('refuses a wrong password with WRONGPASS', async () => {
    await expect(nodeAs('app', 'not the password').ping()).rejects.toThrow(/^WRONGPASS/);
  });

  it.each([
    ['FLUSHALL', ['flushall']],
    ['CONFIG SET', ['config', 'set', 'maxmemory', '1']],
    ['KEYS', ['keys', '*']],
  ])('refuses the app user %s with NOPERM', async (_name, [command, ...args]) => {
    await expect(nodeAs('app', PASSWORDS.REDIS_APP_PASSWORD).call(command!, ...args)).rejects.toThrow(/^NOPERM/);
  });

  // Redis refuses DEBUG to every user (enable-debug-command no) before it asks
  // the ACL, so the app user's own refusal shows only in ACL DRYRUN.
  it('refuses the app user DEBUG, and its rules would too', async () => {
    await expect(nodeAs('app', PASSWORDS.REDIS_APP_PASSWORD).call('debug', 'sleep', '0')).rejects.toThrow(
      /DEBUG command not allowed|^NOPERM/,
    );
    const admin = nodeAs('admin', PASSWORDS.REDIS_PASSWORD);
    expect(await admin.call('acl', 'dryrun', 'app', 'debug', 'sleep', '0')).toMatch(/no permissions to run the 'debug' command/);
  });

  it('lets Redis Commander read but refuses it every write, inside a script too', async () => {
    const app = await clusterAs('app', PASSWORDS.REDIS_APP_PASSWORD);
    await app.set('commander:probe', 'seen');
    const commander = await clusterAs('commander', PASSWORDS.REDIS_COMMANDER_PASSWORD);
    expect(await commander.get('commander:probe')).toBe('seen');
    await expect(commander.set('commander:probe', 'changed')).rejects.toThrow(/^NOPERM/);
    await expect(commander.del('commander:probe')).rejects.toThrow(/^NOPERM/);
    await expect(commander.eval("return redis.call('SET', KEYS[1], 'changed')", 1, 'commander:probe')).rejects.toThrow(
      /can't run this command|NOPERM/,
    );
    expect(await app.get('commander:probe')).toBe('seen');
  });

  it('serves the app as the app user, replicas included', async () => {
    const config = configAs('app', PASSWORDS.REDIS_APP_PASSWORD);
    const client = await clusterAs('app', PASSWORDS.REDIS_APP_PASSWORD);
    const app = createApp({ ...createRedisServices(client, config.redis), logger: silentLogger, config });
    await request(app).put('/api/keys/secured').send({ value: 'yes' }).expect(200);
    expect(keyBody(await request(app).get('/api/keys/secured').expect(200)).value).toBe('yes');
    const overview = clusterBody(await request(app).get('/api/cluster').expect(200));
    expect(overview.nodes.filter((node) => node.reachable && node.memory !== undefined)).toHaveLength(6);
  });

  it('logs a wrong app password once, plainly, and keeps retrying quietly', async () => {
    const config = configAs('app', 'not the password');
    const errors: string[] = [];
    const warnings: string[] = [];
    let retries = 0;
    const logger = {
      ...silentLogger,
      error: (msg: string, fields?: Record<string, unknown>) => errors.push(`${msg}: ${String(fields?.error)}`),
      warn: (msg: string) => warnings.push(msg),
      debug: (msg: string) => (retries += msg === 'redis cluster error' ? 1 : 0),
    };
    clients.push(createRedisCluster(config.redis, logger));
    await eventually(() => Promise.resolve(retries >= 3 ? true : undefined), 10_000, 'three connection rounds');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/refused the credentials.*WRONGPASS/);
    expect(warnings).toEqual([]);
  });

  it('lets the initiator run again as admin with the password from the environment only', () => {
    const output = runClusterScript(cluster, 'start');
    expect(output).toContain('cluster already formed');
    expect(output).not.toMatch(/horse|battery|staple/);
  });

  it("keeps the passwords out of the nodes' aclfile, which holds their hashes", () => {
    const acl = readFileSync(path.join(cluster.dir, String(cluster.basePort), 'users.acl'), 'utf8');
    expect(acl).toMatch(/^user app on .* #[0-9a-f]{64}$/m);
    expect(acl).not.toMatch(/horse|battery|staple/);
  });
});
