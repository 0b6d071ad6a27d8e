import type { TestingModule } from '@nestjs/testing';
import { Test } from '@nestjs/testing';
import {
  QUEUE,
  RedisKeys,
  bullPrefix,
  typedProducer,
  type InferJobData,
  type InferJobResult,
  type TypedProducer,
} from '@strata/cache-keys';
import { loadConfig } from '@strata/config';
import { RedisModule, ServiceKitModule, createLogger } from '@strata/service-kit';
import { deleteRedisPrefix, serviceEnv, testRedisPrefix, testRedisUrl } from '@strata/testing';
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { InferenceModule } from '../../src/inference.module';
import { WorkerMetrics } from '../../src/metrics/worker.metrics';
import { MEMORY_PROBE, type MemoryProbe } from '../../src/models/memory.probe';
import { MODEL_SOURCE } from '../../src/models/model-source';
import { SessionPool } from '../../src/models/session-pool.service';
import { WORKER_SETTINGS, type WorkerSettings } from '../../src/worker-settings';
import type { DirectoryModelSource } from './directory-model-source';

export interface WorkerHarness {
  readonly module: TestingModule;
  readonly prefix: string;
  readonly keys: RedisKeys;
  /** A plain client on the test Redis (for assertions). */
  readonly redis: Redis;
  readonly producer: TypedProducer<'infer'>;
  readonly queue: Queue;
  readonly events: QueueEvents;
  readonly pool: SessionPool;
  readonly metrics: WorkerMetrics;
  readonly settings: WorkerSettings;
  readonly logs: Record<string, unknown>[];
  /** Adds a `run` job and waits for its result. */
  run(
    data: Omit<InferJobData, 'deadline'> & { deadline?: number },
    opts?: JobsOptions,
  ): Promise<InferJobResult>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly source: DirectoryModelSource;
  readonly env?: Record<string, string>;
  readonly memory?: MemoryProbe;
  /** Keep the prefix's keys at close (another harness shares them). */
  readonly prefix?: string;
}

/**
 * The worker's InferenceModule in this process, on the test Redis under its own prefix, with the
 * model-loader replaced by a real directory. Jobs go through a real BullMQ queue.
 */
export async function startWorker(options: HarnessOptions): Promise<WorkerHarness> {
  const prefix = options.prefix ?? testRedisPrefix('iw');
  const env = await serviceEnv({
    REDIS_KEY_PREFIX: prefix,
    ORT_INTRA_OP_THREADS: '1',
    ...options.env,
  });
  const config = loadConfig('inference-worker', env);
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'inference-worker',
    level: 'info',
    format: 'json',
    destination: { write: (s: string) => void logs.push(JSON.parse(s)) },
  });
  let builder = Test.createTestingModule({
    imports: [
      ServiceKitModule.forRoot({ service: 'inference-worker', config, logger }),
      RedisModule,
      InferenceModule,
    ],
  })
    .overrideProvider(MODEL_SOURCE)
    .useValue(options.source);
  if (options.memory) builder = builder.overrideProvider(MEMORY_PROBE).useValue(options.memory);
  const module = await builder.compile();
  await module.init();

  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE.infer, { connection: redis, prefix: bullPrefix(prefix) });
  const eventsConnection = redis.duplicate();
  const events = new QueueEvents(QUEUE.infer, {
    connection: eventsConnection,
    prefix: bullPrefix(prefix),
  });
  queue.setMaxListeners(1000);
  events.setMaxListeners(1000);
  await events.waitUntilReady();
  const producer = typedProducer('infer', queue);

  return {
    module,
    prefix,
    keys: new RedisKeys(prefix),
    redis,
    producer,
    queue,
    events,
    pool: module.get(SessionPool),
    metrics: module.get(WorkerMetrics),
    settings: module.get(WORKER_SETTINGS),
    logs,
    async run(data, opts) {
      const job = await producer.add('run', { deadline: Date.now() + 60_000, ...data }, opts);
      return (await job.waitUntilFinished(events, 60_000)) as InferJobResult;
    },
    async close() {
      await module.close();
      await events.close();
      await queue.close();
      eventsConnection.disconnect();
      redis.disconnect();
      if (!options.prefix) await deleteRedisPrefix(prefix);
    },
  };
}

/** Values of a prom-client metric as `{labels → value}` rows. */
export async function metricValues(metric: {
  get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }>;
}) {
  return (await metric.get()).values;
}
