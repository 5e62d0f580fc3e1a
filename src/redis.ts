import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
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

/**
 * Who the app is and how it reaches a node, for the cluster's connections and
 * the one-off ones alike: the ACL user and password, and TLS with the CA and
 * server name to check certificates against. Node checks a certificate
 * against the host it connects to, which for a node reached through natMap
 * is the mapped address (127.0.0.1), unless a servername is given.
 */
export function connectionOptions(config: RedisConfig): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const tls: ConnectionOptions | undefined = config.tls && {
    ...(config.tls.ca ? { ca: config.tls.ca } : {}),
    ...(config.tls.servername ? { servername: config.tls.servername } : {}),
  };
  return {
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** Keeps a startup hostname as it is, for TLS to check the certificate against it (ioredis README, "Special note: AWS ElastiCache Clusters with TLS"). */
const passthroughLookup: ClusterOptions['dnsLookup'] = (address, callback) => callback(null, address);

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
    ...(config.dnsLookup === 'passthrough' ? { dnsLookup: passthroughLookup } : {}),
    redisOptions: {
      connectTimeout: 2000,
      ...connectionOptions(config),
    },
  };
}

/** Redis's answers to a wrong user name or password: no retry can help, so they are said once, plainly. */
const CREDENTIALS_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/** Connects to the cluster; the caller owns the client and must quit() it. */
export function createRedisCluster(config: RedisConfig, logger: Logger): Cluster {
  const cluster = new Cluster(config.nodes, clusterOptions(config));
  // ioredis keeps retrying, so the app stays up (answering 503) rather than
  // exiting into a restart loop; the refusal is logged once, not per retry.
  let refused: string | undefined;
  // Without an 'error' listener a lost node would crash the process.
  cluster.on('error', (error: Error) => {
    if (refused) logger.debug('redis cluster error', { error });
    else logger.warn('redis cluster error', { error });
  });
  cluster.on('node error', (error: Error, address: string) => {
    if (!CREDENTIALS_REFUSED.test(error.message)) {
      logger.warn('redis node error', { address, error });
      return;
    }
    if (refused !== error.message) {
      logger.error('redis refused the credentials: check REDIS_USERNAME and REDIS_PASSWORD (or REDIS_PASSWORD_FILE)', {
        user: config.username ?? 'default',
        address,
        error,
      });
    }
    refused = error.message;
  });
  cluster.on('ready', () => {
    refused = undefined;
    logger.info('redis cluster ready');
  });
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
        ...connectionOptions(config),
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
