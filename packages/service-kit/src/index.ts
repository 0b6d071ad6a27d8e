export {
  SERVICE_IDS,
  SERVICE_NAME,
  STRATA_CONFIG,
  STRATA_LOGGER,
  METRICS_REGISTRY,
  type ServiceId,
  type ServiceConfig,
} from './core/service-kit.tokens';
export { ServiceKitModule, type ServiceKitOptions } from './core/service-kit.module';
export { ServiceLifecycle } from './core/service-lifecycle.service';

export {
  createLogger,
  type LoggerOptions,
  type LogLevel,
  type LogFormat,
} from './logging/logger.factory';
export { formatPrettyLine, prettyDestination } from './logging/pretty.formatter';
export { NestLoggerAdapter } from './logging/nest-logger.adapter';

export { createMetricsRegistry } from './metrics/metrics.registry';
export { MetricsController } from './metrics/metrics.controller';

export {
  ReadinessService,
  DEFAULT_READINESS_TIMEOUT_MS,
  type ReadinessCheck,
  type ReadinessReport,
} from './health/readiness.service';
export {
  provideReadinessCheck,
  type ReadinessCheckProviderOptions,
} from './health/readiness-check.provider';
export { HealthController } from './health/health.controller';
export { withTimeout, TimeoutError } from './health/with-timeout.util';

export {
  RedisConnectionFactory,
  redisOptionsFor,
  type RedisRole,
} from './redis/redis-connection.factory';
export { RedisModule, REDIS_CLIENT } from './redis/redis.module';
export { pingRedis } from './redis/redis.readiness';
export {
  createRedisClient,
  isClusterClient,
  redisTopologyOf,
  describeTopology,
  type RedisClient,
  type RedisTopology,
} from '@strata/redis-topology';

export { QueueWorkerHost, type QueueConsumerOptions } from './queue/queue-worker.host';
export { QueueWorkerModule } from './queue/queue-worker.module';

export { ModelCacheDirModule } from './disk/model-cache-dir.module';
export { ModelCacheDir, MODEL_CACHE_DIR_ACCESS } from './disk/model-cache-dir.service';
export { checkCacheDir, type CacheDirAccess } from './disk/model-cache-dir.readiness';

export {
  bootstrapService,
  type BootstrapOptions,
  type RunningService,
} from './bootstrap/service.bootstrap';
export { loadConfigOrExit, type ConfigExitIo } from './bootstrap/config-exit.handler';
export {
  createShutdownHandler,
  type ShutdownOptions,
  type ShutdownSteps,
} from './bootstrap/shutdown.handler';
export { installProcessFaultHandler } from './bootstrap/process-fault.handler';
export { PORT_VARIABLE } from './bootstrap/service-ports';

export { DatabaseModule, PRISMA_CLIENT, type DatabaseClient } from './database/database.module';
