import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import {
  bullPrefix,
  createDispatcher,
  QUEUE,
  typedProducer,
  type UsageEvent,
} from '@strata/cache-keys';
import { QueueWorkerHost, QueueWorkerModule, ServiceLifecycle } from '@strata/service-kit';
import {
  deleteRedisPrefix,
  serviceEnv,
  testRedisPrefix,
  testRedisUrl,
  waitFor,
} from '@strata/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startKitApp, type KitApp } from './kit-app.helper';

const event = (items: number): UsageEvent => ({
  apiKeyHash: 'k'.repeat(64),
  workspace: 'acme',
  model: 'resnet',
  version: 1,
  category: 'infer',
  items,
  computeMs: 3,
  cached: false,
  outcome: 'ok',
  startedAt: 1,
  finishedAt: 2,
});

const seen: number[] = [];

@Injectable()
class UsageConsumer implements OnModuleInit {
  constructor(private readonly host: QueueWorkerHost) {}

  onModuleInit(): void {
    this.host.consume({
      queue: QUEUE.usage,
      concurrency: 2,
      processor: createDispatcher('usage', {
        record: async (job) => {
          if (job.data.items < 0) throw new Error('negative item count');
          seen.push(job.data.items);
        },
        records: async (job) => {
          seen.push(...job.data.events.map((e) => e.items));
        },
      }),
    });
  }
}

@Module({ imports: [QueueWorkerModule], providers: [UsageConsumer] })
class UsageModule {}

describe('QueueWorkerHost in process', () => {
  const prefix = testRedisPrefix('host');
  let kit: KitApp;
  let connection: Redis;
  let queue: Queue;

  beforeAll(async () => {
    kit = await startKitApp(await serviceEnv({ REDIS_KEY_PREFIX: prefix }), [UsageModule]);
    connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    queue = new Queue(QUEUE.usage, { connection, prefix: bullPrefix(prefix) });
  });

  afterAll(async () => {
    await kit?.app.close();
    await queue?.close();
    connection?.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('processes jobs of its queue under the key prefix and logs failures', async () => {
    const producer = typedProducer('usage', queue);
    const ok = await producer.add('record', event(7));
    const bad = await producer.add('record', event(-1));
    await waitFor(async () => (await queue.getJobState(ok.id!)) === 'completed');
    await waitFor(async () => (await queue.getJobState(bad.id!)) === 'failed');
    expect(seen).toEqual([7]);
    const failure = kit.records.find((r) => r.level === 'warn' && r.jobId === bad.id);
    expect(failure?.msg).toContain('negative item count');
    expect(await connection.exists(`${prefix}:${QUEUE.usage}:${ok.id}`)).toBe(1);
  });

  it('fails a job whose name the queue does not know, without retrying it', async () => {
    const job = await queue.add('bogus', event(1), { attempts: 3 });
    await waitFor(async () => (await queue.getJobState(job.id!)) === 'failed');
    const fresh = await queue.getJob(job.id!);
    expect(fresh?.attemptsMade).toBe(1);
    expect(fresh?.failedReason).toMatch(/unknown job name/);
  });

  it('registers a drain step that closes its workers', async () => {
    await kit.app.get(ServiceLifecycle).drain();
    const host = kit.app.get(QueueWorkerHost);
    expect(host.list().every((w) => w.closing !== undefined || !w.isRunning())).toBe(true);
    expect(() => host.consume({ queue: QUEUE.usage, processor: async () => undefined })).toThrow(
      /shutting down/,
    );
  });
});
