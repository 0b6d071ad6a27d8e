import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { HealthController } from '../health/health.controller';
import { ReadinessService } from '../health/readiness.service';
import { MetricsController } from '../metrics/metrics.controller';
import { createMetricsRegistry } from '../metrics/metrics.registry';
import { ServiceLifecycle } from './service-lifecycle.service';
import {
  METRICS_REGISTRY,
  SERVICE_NAME,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type ServiceConfig,
  type ServiceId,
} from './service-kit.tokens';

export interface ServiceKitOptions {
  readonly service: ServiceId;
  readonly config: ServiceConfig;
  readonly logger: Logger;
}

/**
 * The pieces every service has: config, logger, metrics registry, lifecycle state, readiness
 * registry, and the /healthz, /readyz, /metrics endpoints. Global, so feature modules inject
 * its tokens without importing it. bootstrapService() adds it; tests may use it directly.
 */
@Module({})
export class ServiceKitModule {
  static forRoot(options: ServiceKitOptions): DynamicModule {
    const providers = [
      { provide: SERVICE_NAME, useValue: options.service },
      { provide: STRATA_CONFIG, useValue: options.config },
      { provide: STRATA_LOGGER, useValue: options.logger },
      { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry(options.service) },
      ServiceLifecycle,
      ReadinessService,
    ];
    return {
      module: ServiceKitModule,
      global: true,
      controllers: [HealthController, MetricsController],
      providers,
      exports: providers.map((p) => ('provide' in p ? p.provide : p)),
    };
  }
}
