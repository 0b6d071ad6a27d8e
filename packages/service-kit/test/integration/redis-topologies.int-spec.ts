import { QUEUE, bullPrefix } from '@strata/cache-keys';
import {
  ReadinessService,
  RedisConnectionFactory,
  RedisModule,
  REDIS_CLIENT,
  isClusterClient,
  type RedisClient,
} from '@strata/service-kit';
import {
  deleteRedisPrefix,
  parseHostPort,
  serviceEnv,
  startRedisCluster,
  startRedisSentinelSet,
  testRedisPrefix,
  waitFor,
  type RedisClusterFixture,
  type RedisSentinelSet,
} from '@strata/testing';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { startKitApp, type KitApp } from './kit-app.helper';

async function readyReport(kit: KitApp) {
  const readiness = kit.app.get(ReadinessService);
  return waitFor(
    async () => {
      const r = await readiness.evaluate();
      return r.ok ? r : undefined;
    },
    { timeoutMs: 30_000, what: 'readiness' },
  );
}

describe('RedisConnectionFactory on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: RedisClusterFixture;
  let kit: KitApp;
  const prefix = testRedisPrefix('kit-cl');

  beforeAll(async () => {
    cluster = await startRedisCluster();
    kit = await startKitApp(
      await serviceEnv({ REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_KEY_PREFIX: prefix }),
      [RedisModule],
    );
  }, 60_000);

  afterAll(async () => {
    await kit?.app.close();
    await cluster?.stop();
  });

  it('is ready, and every role gets a cluster connection that BullMQ accepts', async () => {
    expect((await readyReport(kit)).checks).toEqual({ redis: 'ok' });
    const factory = kit.app.get(RedisConnectionFactory);
    expect(factory.describe()).toBe(`cluster seeded by ${cluster.nodes.join(',')}`);
    const producer = factory.create('producer');
    const worker = factory.create('worker', 'worker');
    const events = factory.create('worker', 'events');
    expect([producer, worker, events].every(isClusterClient)).toBe(true);

    const queue = new Queue(QUEUE.usage, { connection: producer, prefix: bullPrefix(prefix) });
    const queueEvents = new QueueEvents(QUEUE.usage, {
      connection: events,
      prefix: bullPrefix(prefix),
    });
    // BullMQ throws here if the worker role did not keep maxRetriesPerRequest: null per node.
    const consumer = new Worker(QUEUE.usage, async (job) => `seen ${job.data.n}`, {
      connection: worker,
      prefix: bullPrefix(prefix),
    });
    try {
      await queueEvents.waitUntilReady();
      const job = await queue.add('record', { n: 7 });
      // Read the job itself: a QueueEvents whose first XREAD starts after the job finished
      // misses the event (seen once in CI under load), which is not what this test is about.
      await waitFor(async () => (await queue.getJobState(job.id!)) === 'completed', {
        timeoutMs: 20_000,
        what: 'the job completed',
      });
      expect((await queue.getJob(job.id!))?.returnvalue).toBe('seen 7');
    } finally {
      await consumer.close();
      await queueEvents.close();
      await queue.close();
      await deleteRedisPrefix(prefix, { kind: 'cluster', nodes: cluster.nodes.map(parseHostPort) });
    }
  }, 60_000);

  it('fails fast (not hangs) and says why when the whole cluster is gone; shuts down anyway', async () => {
    const client = kit.app.get<RedisClient>(REDIS_CLIENT);
    await cluster.stop();
    const readiness = kit.app.get(ReadinessService);
    // The first failing report may still carry the command's error (the cluster notices the
    // lost nodes one by one); then it names the connection state.
    const down = await waitFor(async () => {
      const r = await readiness.evaluate();
      return !r.ok && /^not connected \(/.test(String(r.checks.redis)) ? r : undefined;
    });
    expect(down.failing).toEqual(['redis']);
    // The shared fail-fast client rejects instead of queueing.
    await expect(client.get('x')).rejects.toThrow();
    await kit.app.close();
    // No reconnect attempt is left pending.
    await new Promise((r) => setTimeout(r, 300));
    expect(['end', 'close', 'disconnecting']).toContain(client.status);
  });
});

describe('RedisConnectionFactory on Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME)', () => {
  let set: RedisSentinelSet;
  let kit: KitApp;

  beforeAll(async () => {
    set = await startRedisSentinelSet({ name: 'kit' });
    kit = await startKitApp(
      await serviceEnv({ REDIS_SENTINELS: set.sentinels.join(','), REDIS_SENTINEL_NAME: 'kit' }),
      [RedisModule],
    );
  }, 60_000);

  afterAll(async () => {
    await kit?.app.close();
    await set?.stop();
  });

  it('follows a failover: the primary killed, readiness comes back on the promoted replica', async () => {
    expect((await readyReport(kit)).checks).toEqual({ redis: 'ok' });
    const client = kit.app.get<RedisClient>(REDIS_CLIENT);
    await client.set('k', 'before');
    expect(await client.call('WAIT', 1, 10_000)).toBe(1);

    await set.servers[0].kill('SIGKILL');
    const promoted = await waitFor(
      async () => {
        const port = await set.currentPrimaryPort();
        return port !== set.servers[0].port ? port : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the promotion' },
    );
    expect(promoted).toBe(set.servers[1].port);
    await waitFor(async () => (await client.set('k2', 'after').catch(() => null)) === 'OK', {
      timeoutMs: 30_000,
      what: 'a write on the promoted replica',
    });
    expect(await client.get('k')).toBe('before');
    expect((await readyReport(kit)).checks).toEqual({ redis: 'ok' });
    expect(kit.records.some((r) => String(r.msg).includes('connection restored'))).toBe(true);
  }, 120_000);
});
