import type { Express } from 'express';
import type { Cluster } from 'ioredis';
import { createApp } from '../../src/app';
import type { ClusterView } from '../../src/cluster-view';
import type { Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createRedisCluster, createRedisServices } from '../../src/redis';
import type { KeyValueStore } from '../../src/store';

export interface DemoApp {
  app: Express;
  cluster: Cluster;
  store: KeyValueStore;
  view: ClusterView;
  /** Why requests failed, as the app logged it: a demo prints these at the end instead of a log line each. */
  reasons: Set<string>;
}

/** The app as the server builds it, on its own cluster client, with its warnings collected rather than printed. */
export function demoApp(config: Config): DemoApp {
  const cluster = createRedisCluster(config.redis, createLogger(config.logLevel));
  const { store, view } = createRedisServices(cluster, config.redis);
  const reasons = new Set<string>();
  const logger = {
    ...createLogger('silent'),
    warn: (_msg: string, fields?: Record<string, unknown>) => reasons.add(String(fields?.error)),
  };
  return { app: createApp({ store, view, logger, config }), cluster, store, view, reasons };
}
