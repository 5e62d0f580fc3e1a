import request from 'supertest';
import { createApp } from '../../src/app';
import { createRedisServices } from '../../src/redis';
import { connectCluster, connectNode } from '../support/cluster-client';
import { clusterBody, keyBody } from '../support/http';
import { silentLogger, testConfig } from '../support/fakes';
import { testCluster, runClusterScript, startFresh } from '../support/native-cluster';

// Its own cluster, started with a password by the same script users run.
const cluster = testCluster(7600, { REDIS_PASSWORD: 'correct horse battery staple' });

afterAll(() => {
  runClusterScript(cluster, 'clean', 30_000);
});

describe('a cluster started with REDIS_PASSWORD', () => {
  beforeAll(() => {
    startFresh(cluster);
  });

  it('refuses clients without the password', async () => {
    const anonymous = connectNode(cluster.basePort);
    try {
      await expect(anonymous.get('k')).rejects.toThrow(/NOAUTH/);
    } finally {
      anonymous.disconnect();
    }
  });

  it('serves the app configured with the same password, replicas included', async () => {
    const config = testConfig(cluster.env);
    const client = await connectCluster(cluster);
    try {
      const app = createApp({ ...createRedisServices(client, config.redis), logger: silentLogger, config });
      await request(app).put('/api/keys/secured').send({ value: 'yes' }).expect(200);
      const found = await request(app).get('/api/keys/secured').expect(200);
      expect(keyBody(found).value).toBe('yes');
      const overview = await request(app).get('/api/cluster').expect(200);
      expect(clusterBody(overview).nodes.filter((node) => node.reachable)).toHaveLength(6);
      expect(await client.cluster('INFO')).toContain('cluster_state:ok');
    } finally {
      await client.quit();
    }
  });

  it('lets the initiator run again with the password from the environment only', () => {
    const output = runClusterScript(cluster, 'start');
    expect(output).toContain('cluster already formed');
    expect(output).not.toContain('correct horse');
  });
});
