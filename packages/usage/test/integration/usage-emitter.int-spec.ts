import { bullPrefix, QUEUE } from '@strata/cache-keys';
import { RedisConnectionFactory, RedisModule } from '@strata/service-kit';
import {
  deleteRedisPrefix,
  startRedisServer,
  testRedisPrefix,
  testRedisUrl,
  waitFor,
  type RedisServer,
} from '@strata/testing';
import { createUsageEmitter, UsageEmitter, UsageEmitterModule } from '@strata/usage';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { kit, kitContext } from '../support/kit';
import { usageEvent } from '../support/usage-events';

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const data = await registry.getSingleMetric(name)!.get();
  const v = data.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

function usageQueue(url: string, prefix: string): Queue {
  return new Queue(QUEUE.usage, {
    // Options, not an instance: the queue then owns the connection and close() ends it.
    connection: { url, maxRetriesPerRequest: 1 },
    prefix: bullPrefix(prefix),
  });
}

describe('UsageEmitter against Redis', () => {
  const prefixes: string[] = [];
  const queues: Queue[] = [];
  afterAll(async () => {
    for (const q of queues) await q.close().catch(() => undefined);
    for (const p of prefixes) await deleteRedisPrefix(p);
  });

  function newPrefix(): string {
    const p = testRedisPrefix('usage');
    prefixes.push(p);
    return p;
  }

  it('puts `records` jobs of up to 500 events on the usage queue, and flushes what is left on shutdown', async () => {
    const prefix = newPrefix();
    const k = kit('inference-worker', { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix });
    const app = await kitContext('inference-worker', k, [RedisModule, UsageEmitterModule]);
    const emitter = app.get(UsageEmitter);
    expect(emitter.enabled).toBe(true);
    const events = Array.from({ length: 1200 }, (_, i) => usageEvent({ items: i + 1 }));
    for (const e of events) emitter.emit(e);
    // No waiting: close() (the shutdown hook) must send whatever is still buffered.
    await app.close();

    const queue = usageQueue(testRedisUrl(), prefix);
    queues.push(queue);
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    expect(jobs.map((j) => j.data.events.length).sort()).toEqual([200, 500, 500]);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(3);
    expect(jobs.every((j) => j.name === 'records')).toBe(true);
    const items = jobs
      .flatMap((j) => j.data.events.map((e: { items: number }) => e.items))
      .sort((a: number, b: number) => a - b);
    expect(items).toEqual(events.map((e) => e.items));
    expect(jobs[0].opts.removeOnComplete).toBe(true);
  });

  it('opted out (TELEMETRY_OPT_OUT): nothing reaches Redis, the queue stays empty', async () => {
    const prefix = newPrefix();
    const k = kit('gateway', {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres',
      TELEMETRY_OPT_OUT: 'true',
    });
    const app = await kitContext('gateway', k, [RedisModule, UsageEmitterModule]);
    const emitter = app.get(UsageEmitter);
    expect(emitter.enabled).toBe(false);
    for (let i = 0; i < 100; i++) emitter.emit(usageEvent());
    await emitter.flush();
    await app.close();

    const probe = new Redis(testRedisUrl());
    try {
      // Not even the queue's bookkeeping keys: opted out means no connection to the queue at all.
      expect(await probe.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      probe.disconnect();
    }
    const queue = usageQueue(testRedisUrl(), prefix);
    queues.push(queue);
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
  });

  describe('while Redis is down', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis.stop();
    });

    it('buffers up to TELEMETRY_EMIT_BUFFER_MAX, counts the drops, and delivers the buffer when Redis returns', async () => {
      const prefix = newPrefix();
      const k = kit('inference-worker', {
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: prefix,
        TELEMETRY_EMIT_BUFFER_MAX: '50',
      });
      const connections = new RedisConnectionFactory(k.config, k.logger);
      const registry = new Registry();
      const emitter = createUsageEmitter(k.config, connections, k.logger, registry);
      const queue = usageQueue(redis.url, prefix);
      queue.on('error', () => undefined);
      try {
        emitter.emit(usageEvent());
        await emitter.flush();
        expect(await queue.count()).toBe(1);

        await redis.stop();
        for (let i = 0; i < 80; i++) emitter.emit(usageEvent());
        expect(emitter.buffered).toBe(50);
        expect(
          await metric(registry, 'strata_usage_events_dropped_total', { reason: 'buffer_full' }),
        ).toBe(30);
        await waitFor(
          async () => (await metric(registry, 'strata_usage_emit_failures_total')) > 0,
          {
            timeoutMs: 10_000,
            intervalMs: 20,
            what: 'a failed add',
          },
        );

        await redis.restart();
        await waitFor(async () => emitter.buffered === 0, {
          timeoutMs: 20_000,
          intervalMs: 50,
          what: 'the buffer to drain after Redis returned',
        });
        // The restarted server has no data: exactly the 50 buffered events arrived.
        const queued = async () =>
          (await queue.getJobs(['waiting'], 0, -1)).reduce((n, j) => n + j.data.events.length, 0);
        await waitFor(async () => (await queued().catch(() => -1)) === 50, {
          timeoutMs: 10_000,
          intervalMs: 50,
          what: '50 events in the queue',
        });
        expect(await metric(registry, 'strata_usage_events_emitted_total')).toBe(51);
      } finally {
        await emitter.close();
        await queue.close().catch(() => undefined);
        await connections.closeAll();
      }
    });
  });
});
