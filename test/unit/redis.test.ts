import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CLUSTER_NODE_TIMEOUT_MS, loadConfig } from '../../src/config';
import { clusterOptions, connectionOptions, retryPlan } from '../../src/redis';

describe('retry settings', () => {
  it('match the cluster-node-timeout that redis/redis.conf ships', () => {
    const conf = readFileSync(path.join(__dirname, '..', '..', 'redis', 'redis.conf'), 'utf8');
    const shipped = Number(/^cluster-node-timeout\s+(\d+)/m.exec(conf)?.[1]);
    expect(shipped).toBe(DEFAULT_CLUSTER_NODE_TIMEOUT_MS);
  });

  it.each([500, 2000, 5000, 15000])('outlast a failover with node timeout %i ms (ioredis README rule)', (nodeTimeout) => {
    const options = clusterOptions(loadConfig({ REDIS_CLUSTER_NODE_TIMEOUT_MS: String(nodeTimeout) }).redis);
    const plan = retryPlan(nodeTimeout);
    expect(options.retryDelayOnFailover! * options.maxRedirections!).toBeGreaterThan(nodeTimeout);
    // Each round toward a lost master may cost four redirections; the rounds must outlast the failover.
    expect((options.retryDelayOnFailover! * options.maxRedirections!) / 4).toBeGreaterThanOrEqual(plan.failoverMs);
    expect(plan.failoverMs).toBeGreaterThanOrEqual(nodeTimeout + 2000);
    expect(options.retryDelayOnClusterDown).toBe(options.retryDelayOnFailover);
    // Even if every redirection is a MOVED ping-pong, together they outlast the failover.
    expect(options.retryDelayOnMoved! * options.maxRedirections!).toBeGreaterThanOrEqual(plan.failoverMs);
    expect(plan.commandDeadlineMs).toBeGreaterThan(plan.failoverMs);
  });

  it('passes the password and NAT map to every node connection', () => {
    const options = clusterOptions(loadConfig({ REDIS_PASSWORD: 'pw', REDIS_NAT_MAP: '10.0.0.1:6379=127.0.0.1:7000' }).redis);
    expect(options.redisOptions?.password).toBe('pw');
    expect(options.natMap).toEqual({ '10.0.0.1:6379': { host: '127.0.0.1', port: 7000 } });
  });
});

describe('connection options', () => {
  it('give every node connection the ACL user, the password and the TLS settings', () => {
    const config = loadConfig({ REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw', REDIS_TLS: '1', REDIS_TLS_SERVERNAME: 'redis-node-1' }).redis;
    expect(clusterOptions(config).redisOptions).toMatchObject({ username: 'app', password: 'pw', tls: { servername: 'redis-node-1' } });
    expect(connectionOptions(config)).toEqual({ username: 'app', password: 'pw', tls: { servername: 'redis-node-1' } });
  });

  it('send no TLS, user or password when none is configured', () => {
    expect(connectionOptions(loadConfig({}).redis)).toEqual({});
  });

  it('hand startup hostnames over unresolved with REDIS_DNS_LOOKUP=passthrough, so TLS checks the name', () => {
    expect(clusterOptions(loadConfig({}).redis).dnsLookup).toBeUndefined();
    const lookup = clusterOptions(loadConfig({ REDIS_DNS_LOOKUP: 'passthrough' }).redis).dnsLookup!;
    const resolved: string[] = [];
    lookup('clustercfg.example.cache.amazonaws.com', (_error, address) => resolved.push(address));
    expect(resolved).toEqual(['clustercfg.example.cache.amazonaws.com']);
  });
});
