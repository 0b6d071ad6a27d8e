import { Test, type TestingModule } from '@nestjs/testing';
import { bullPrefix, QUEUE } from '@strata/cache-keys';
import { loadConfig } from '@strata/config';
import {
  createLogger,
  DatabaseModule,
  METRICS_REGISTRY,
  RedisModule,
  ServiceKitModule,
  ServiceLifecycle,
} from '@strata/service-kit';
import { UsageEmitter } from '@strata/usage';
import { Queue } from 'bullmq';
import type { Registry } from 'prom-client';
import { UsageSender } from '../../src/delivery/usage-sender.service';
import { UsageConsumer } from '../../src/usage/usage-consumer.service';
import { UsageOutboxRepository } from '../../src/usage/usage-outbox.repository';
import { UsagePipelineModule } from '../../src/usage-pipeline.module';

/** Settings that keep tests short: small batches, quick retries, short locks. */
export const FAST_TELEMETRY_ENV: Record<string, string> = {
  TELEMETRY_FLUSH_MAX_EVENTS: '20',
  TELEMETRY_JOB_LOCK_MS: '1000',
  TELEMETRY_BATCH_SIZE: '10',
  TELEMETRY_SEND_INTERVAL_MS: '50',
  TELEMETRY_RETRY_BASE_MS: '20',
  TELEMETRY_RETRY_MAX_MS: '200',
  TELEMETRY_SINK_TIMEOUT_MS: '300',
};

export interface Pipeline {
  readonly module: TestingModule;
  readonly consumer: UsageConsumer;
  readonly sender: UsageSender;
  readonly outbox: UsageOutboxRepository;
  readonly registry: Registry;
  readonly logs: Record<string, unknown>[];
  /** What SIGTERM does: drain (final flush, last post), then close. */
  stop(): Promise<void>;
}

/** The telemetry-sender's pipeline in this process, on the real Redis and Postgres of `env`. */
export async function startPipeline(env: Record<string, string>): Promise<Pipeline> {
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'telemetry-sender',
    level: 'debug',
    format: 'json',
    destination: { write: (s: string) => logs.push(JSON.parse(s)) },
  });
  const config = loadConfig('telemetry-sender', env);
  const module = await Test.createTestingModule({
    imports: [
      ServiceKitModule.forRoot({ service: 'telemetry-sender', config, logger }),
      RedisModule,
      DatabaseModule,
      UsagePipelineModule,
    ],
  }).compile();
  await module.init();
  let stopped: Promise<void> | undefined;
  return {
    module,
    consumer: module.get(UsageConsumer),
    sender: module.get(UsageSender),
    outbox: module.get(UsageOutboxRepository),
    registry: module.get(METRICS_REGISTRY),
    logs,
    stop() {
      stopped ??= (async () => {
        module.get(ServiceLifecycle).markShuttingDown();
        await module.get(ServiceLifecycle).drain();
        await module.close();
      })();
      return stopped;
    },
  };
}

/** An emitter like the gateway's, on its own queue object (closed by `close()`). */
export function testEmitter(redisUrl: string, prefix: string): UsageEmitter {
  const queue = new Queue(QUEUE.usage, {
    connection: { url: redisUrl, enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    prefix: bullPrefix(prefix),
  });
  queue.on('error', () => undefined);
  return new UsageEmitter({ enabled: true, queue, maxBuffer: 1_000_000, closeTimeoutMs: 10_000 });
}

/** A plain Queue on `usage` to inspect it. */
export function inspectQueue(redisUrl: string, prefix: string): Queue {
  return new Queue(QUEUE.usage, { connection: { url: redisUrl }, prefix: bullPrefix(prefix) });
}

export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const data = await registry.getSingleMetric(name)!.get();
  return data.values
    .filter((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}
