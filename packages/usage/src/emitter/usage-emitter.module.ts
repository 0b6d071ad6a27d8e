import { Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { bullPrefix, QUEUE } from '@strata/cache-keys';
import {
  METRICS_REGISTRY,
  RedisConnectionFactory,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type ServiceConfig,
} from '@strata/service-kit';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { USAGE_JOB_MAX_EVENTS, UsageEmitter } from './usage-emitter';
import { UsageEmitterMetrics } from './usage-emitter.metrics';

/** Builds the emitter of a service from its configuration (no queue at all when opted out). */
export function createUsageEmitter(
  config: ServiceConfig,
  connections: RedisConnectionFactory,
  logger: Logger,
  registry: Registry,
): UsageEmitter {
  const log = logger.child({ component: 'usage-emitter' });
  const metrics = new UsageEmitterMetrics(registry);
  if (config.TELEMETRY_OPT_OUT) {
    log.info({}, 'TELEMETRY_OPT_OUT: no usage events are emitted');
    return new UsageEmitter({ enabled: false, maxBuffer: 1, metrics });
  }
  // Fail-fast connection: an add while Redis is down fails at once and the batch is retried.
  const queue = new Queue(QUEUE.usage, {
    connection: connections.create('producer', 'usage-producer'),
    prefix: bullPrefix(config.REDIS_KEY_PREFIX),
  });
  // The connection factory already logs connection problems once; these are the same errors.
  queue.on('error', (err) => log.debug({ err }, `usage queue: ${err.message}`));
  return new UsageEmitter({
    enabled: true,
    queue,
    maxBuffer: config.TELEMETRY_EMIT_BUFFER_MAX,
    lingerMs: config.TELEMETRY_EMIT_LINGER_MS,
    batchSize: USAGE_JOB_MAX_EVENTS,
    metrics,
    logger: log,
  });
}

@Injectable()
class UsageEmitterCloser implements OnApplicationShutdown {
  constructor(private readonly emitter: UsageEmitter) {}

  // Shutdown hooks run after the HTTP server has finished its requests (and after the queue
  // workers drained), so their events are in the buffer; Redis connections (a global module)
  // close after this module's hook.
  onApplicationShutdown(): Promise<void> {
    return this.emitter.close();
  }
}

/**
 * `UsageEmitter` for the gateway and the inference-worker. Needs `RedisModule` (global) and the
 * service-kit tokens. Import it in a non-global module so its shutdown hook runs before Redis
 * connections close.
 */
@Module({
  providers: [
    {
      provide: UsageEmitter,
      inject: [STRATA_CONFIG, RedisConnectionFactory, STRATA_LOGGER, METRICS_REGISTRY],
      useFactory: createUsageEmitter,
    },
    UsageEmitterCloser,
  ],
  exports: [UsageEmitter],
})
export class UsageEmitterModule {}
