import {
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  METRICS_REGISTRY,
  PRISMA_CLIENT,
  RedisConnectionFactory,
  ServiceLifecycle,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type DatabaseClient,
  type ServiceConfig,
} from '@strata/service-kit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SinkClient } from './delivery/sink.client';
import { UsageSender } from './delivery/usage-sender.service';
import { TelemetryMetrics } from './metrics/telemetry.metrics';
import {
  settingsFromConfig,
  TELEMETRY_SETTINGS,
  type TelemetrySettings,
} from './telemetry-settings';
import { UsageConsumer } from './usage/usage-consumer.service';
import { UsageOutboxRepository } from './usage/usage-outbox.repository';

/** Starts the consumer and the sender after bootstrap; stops both in the drain phase. */
@Injectable()
export class UsagePipelineRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private stopping?: Promise<void>;

  constructor(
    private readonly consumer: UsageConsumer,
    private readonly sender: UsageSender,
    lifecycle: ServiceLifecycle,
  ) {
    lifecycle.onDrain('usage-pipeline', () => this.stop());
  }

  onApplicationBootstrap(): void {
    this.consumer.start();
    this.sender.start();
  }

  stop(): Promise<void> {
    this.stopping ??= Promise.all([this.consumer.stop(), this.sender.stop()]).then(() => undefined);
    return this.stopping;
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }
}

/**
 * The usage pipeline of the telemetry-sender: `usage` queue → exactly-once aggregates in the
 * Postgres outbox → the sink. Needs RedisModule and DatabaseModule.
 */
@Module({
  providers: [
    {
      provide: TELEMETRY_SETTINGS,
      inject: [STRATA_CONFIG],
      useFactory: (config: ServiceConfig) => settingsFromConfig(config),
    },
    {
      provide: UsageOutboxRepository,
      inject: [PRISMA_CLIENT],
      useFactory: (db: DatabaseClient) => new UsageOutboxRepository(db),
    },
    {
      provide: TelemetryMetrics,
      inject: [METRICS_REGISTRY, UsageOutboxRepository],
      useFactory: (registry: Registry, outbox: UsageOutboxRepository) => {
        const metrics = new TelemetryMetrics(registry);
        metrics.setOutboxStatsSource(() => outbox.stats());
        return metrics;
      },
    },
    {
      provide: UsageConsumer,
      inject: [
        RedisConnectionFactory,
        UsageOutboxRepository,
        TELEMETRY_SETTINGS,
        TelemetryMetrics,
        STRATA_LOGGER,
      ],
      useFactory: (
        connections: RedisConnectionFactory,
        outbox: UsageOutboxRepository,
        settings: TelemetrySettings,
        metrics: TelemetryMetrics,
        logger: Logger,
      ) =>
        new UsageConsumer({
          connection: connections.create('worker', 'usage-consumer'),
          outbox,
          settings,
          metrics,
          logger: logger.child({ component: 'usage-consumer' }),
        }),
    },
    {
      provide: UsageSender,
      inject: [UsageOutboxRepository, TELEMETRY_SETTINGS, TelemetryMetrics, STRATA_LOGGER],
      useFactory: (
        outbox: UsageOutboxRepository,
        settings: TelemetrySettings,
        metrics: TelemetryMetrics,
        logger: Logger,
      ) =>
        new UsageSender({
          outbox,
          sink: settings.sinkUrl
            ? new SinkClient(settings.sinkUrl, settings.sinkTimeoutMs)
            : undefined,
          settings,
          metrics,
          logger: logger.child({ component: 'usage-sender' }),
        }),
    },
    UsagePipelineRunner,
  ],
  exports: [UsageConsumer, UsageSender, UsageOutboxRepository, TelemetryMetrics],
})
export class UsagePipelineModule {}
