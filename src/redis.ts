import { Cluster, type ClusterOptions } from 'ioredis';
import type { RedisConfig } from './config';
import type { Logger } from './logger';

/**
 * How the app rides out a failover. ioredis retries a command that hit a
 * closed connection or CLUSTERDOWN after a delay, at most maxRedirections
 * times; its README's rule is retryDelayOnFailover * maxRedirections >
 * cluster-node-timeout. A master loss takes node-timeout to be noticed plus
 * an election of up to one more node-timeout, so the budget covers both with
 * a second to spare, and the app's own deadline sits a second beyond that.
 */
export interface RetryPlan {
  maxRedirections: number;
  retryDelayMs: number;
  retryBudgetMs: number;
  commandDeadlineMs: number;
}

const MAX_REDIRECTIONS = 16;

export function retryPlan(clusterNodeTimeoutMs: number): RetryPlan {
  const failoverMs = 2 * clusterNodeTimeoutMs + 1000;
  const retryDelayMs = Math.ceil(failoverMs / MAX_REDIRECTIONS);
  const retryBudgetMs = retryDelayMs * MAX_REDIRECTIONS;
  return { maxRedirections: MAX_REDIRECTIONS, retryDelayMs, retryBudgetMs, commandDeadlineMs: retryBudgetMs + 1000 };
}

export function clusterOptions(config: RedisConfig): ClusterOptions {
  const plan = retryPlan(config.clusterNodeTimeoutMs);
  return {
    maxRedirections: plan.maxRedirections,
    retryDelayOnFailover: plan.retryDelayMs,
    retryDelayOnClusterDown: plan.retryDelayMs,
    retryDelayOnTryAgain: plan.retryDelayMs,
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
