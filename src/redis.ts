import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { createClusterView, type ClusterView } from './cluster-view';
import type { RedisConfig } from './config';
import type { Logger } from './logger';
import { createRedisStore, type KeyValueStore } from './store';

/**
 * How the app rides out a failover. ioredis retries a command that hit a
 * closed connection or CLUSTERDOWN after a delay, at most maxRedirections
 * times; its README's rule is retryDelayOnFailover * maxRedirections >
 * cluster-node-timeout. Measured on a native cluster, a master loss takes the
 * node timeout to be flagged plus up to about two seconds of election.
 * Every retry uses up a redirection, MOVED included: while the dead master is
 * out of ioredis' pool, a command for its slots goes to a random node, which
 * answers MOVED to the dead one, and without a delay that ping-pong spent all
 * redirections in milliseconds (seen here). So MOVED waits too, briefly, and
 * even an all-MOVED run of redirections outlasts the failover; a closed
 * connection or CLUSTERDOWN waits longer. The app's own deadline sits a
 * second beyond the failover and bounds the whole wait.
 * Many redirections with short waits, rather than few with long ones: the
 * budget is the same, but a command held back during a failover goes out
 * again within one short wait of the promotion. With 256 the app's first
 * write to the lost slots came 27-89 ms after the promotion was seen (four
 * runs of the failover test); with 64 (375 ms waits), 274-582 ms.
 * A slot moving to another master (a shard added or removed) costs less:
 * ioredis follows ASK at once, and TRYAGAIN (keys of one hash tag split
 * between the two masters) waits like CLUSTERDOWN, while one slot's keys
 * take milliseconds to move; src/store.ts sends again what an auto-pipelined
 * batch hands back unfollowed.
 */
export interface RetryPlan {
  maxRedirections: number;
  /** After a closed connection, CLUSTERDOWN or TRYAGAIN. */
  retryDelayMs: number;
  /** After MOVED. */
  movedDelayMs: number;
  /** How long a failover may take and still cost no failed request. */
  failoverMs: number;
  commandDeadlineMs: number;
}

const MAX_REDIRECTIONS = 256;
const REDIRECTIONS_PER_ROUND = 4;

export function retryPlan(clusterNodeTimeoutMs: number): RetryPlan {
  const failoverMs = 2 * clusterNodeTimeoutMs + 2000;
  return {
    maxRedirections: MAX_REDIRECTIONS,
    retryDelayMs: Math.ceil(failoverMs / (MAX_REDIRECTIONS / REDIRECTIONS_PER_ROUND)),
    movedDelayMs: Math.ceil(failoverMs / MAX_REDIRECTIONS),
    failoverMs,
    commandDeadlineMs: failoverMs + 1000,
  };
}

export function clusterOptions(config: RedisConfig): ClusterOptions {
  const plan = retryPlan(config.clusterNodeTimeoutMs);
  return {
    maxRedirections: plan.maxRedirections,
    retryDelayOnFailover: plan.retryDelayMs,
    retryDelayOnClusterDown: plan.retryDelayMs,
    retryDelayOnTryAgain: plan.retryDelayMs,
    retryDelayOnMoved: plan.movedDelayMs,
    // Batches concurrent commands per node into one write: many more
    // requests per second for free, with no change to the calling code.
    enableAutoPipelining: true,
    slotsRefreshTimeout: 2000,
    ...(config.natMap ? { natMap: config.natMap } : {}),
    redisOptions: {
      connectTimeout: 2000,
      ...(config.password ? { password: config.password } : {}),
    },
  };
}

/** Connects to the cluster; the caller owns the client and must quit() it. */
export function createRedisCluster(config: RedisConfig, logger: Logger): Cluster {
  const cluster = new Cluster(config.nodes, clusterOptions(config));
  // Without an 'error' listener a lost node would crash the process.
  cluster.on('error', (error: Error) => logger.warn('redis cluster error', { error }));
  cluster.on('node error', (error: Error, address: string) => logger.warn('redis node error', { address, error }));
  cluster.on('ready', () => logger.info('redis cluster ready'));
  cluster.on('+node', (node: { options: { host?: string; port?: number } }) =>
    logger.debug('redis node added', { address: `${node.options.host}:${node.options.port}` }),
  );
  return cluster;
}

/** The two things routes use, both over one Cluster client with the same deadline. */
export function createRedisServices(cluster: Cluster, config: RedisConfig): { store: KeyValueStore; view: ClusterView } {
  const plan = retryPlan(config.clusterNodeTimeoutMs);
  const deadlineMs = plan.commandDeadlineMs;
  const { view, masterConnections } = createClusterView(cluster, {
    deadlineMs,
    natMap: config.natMap,
    openConnection: ({ host, port }) =>
      new Redis({
        host,
        port,
        password: config.password,
        connectTimeout: 1000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        // Without this, ioredis keeps a refused socket's timer alive for 2 s after disconnect().
        disconnectTimeout: 100,
      }).on('error', () => {
        // The caller reports the node as unreachable; nothing more to log.
      }),
  });
  return { store: createRedisStore(cluster, masterConnections, { deadlineMs, redirectionDelayMs: plan.movedDelayMs }), view };
}
