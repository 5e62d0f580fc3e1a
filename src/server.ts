import type { Server } from 'node:http';
import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { createRedisCluster, createRedisServices } from './redis';
import { createWorkloads } from './workloads';

const SHUTDOWN_GRACE_MS = 10_000;

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

function main(): void {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`Configuration error: ${error.message}\n`);
    process.exit(1);
  }

  const logger = createLogger(config.logLevel);
  const cluster = createRedisCluster(config.redis, logger);
  const { store, view } = createRedisServices(cluster, config.redis);
  const app = createApp({ store, view, logger, config, workloads: createWorkloads(cluster, config) });

  const server = app.listen(config.port, config.host, () => {
    // The bound port, not the configured one: PORT=0 asks the system for a free one.
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info('listening', { url: `http://${config.host}:${port}`, port, redis: config.redis.nodes });
  });
  server.on('error', (error) => {
    logger.error('cannot listen', { port: config.port, error });
    process.exit(1);
  });

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    // If open connections or Redis hold us up, leave anyway rather than hang.
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    server.closeIdleConnections();
    try {
      await closeServer(server);
      await cluster.quit();
      process.exit(0);
    } catch (error) {
      logger.error('shutdown failed', { error });
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main();
