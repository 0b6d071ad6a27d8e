import type { Provider } from '@nestjs/common';
import type { RedisKeys } from '@strata/cache-keys';
import {
  METRICS_REGISTRY,
  REDIS_CLIENT,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type RedisClient,
  type ServiceConfig,
} from '@strata/service-kit';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { REDIS_KEYS } from '../tokens';
import { RedisRateLimitAdapter } from './redis-rate-limit.adapter';
import { DEFAULT_RATE_LIMIT_TIMING, RateLimitService } from './rate-limit.service';

/** The rate limiter of the gateway (its guard is registered in gateway.module.ts). */
export const RATE_LIMIT_PROVIDERS: Provider[] = [
  {
    provide: RateLimitService,
    inject: [STRATA_CONFIG, REDIS_CLIENT, REDIS_KEYS, STRATA_LOGGER, METRICS_REGISTRY],
    useFactory: (
      config: ServiceConfig,
      redis: RedisClient,
      keys: RedisKeys,
      logger: Logger,
      registry: Registry,
    ) =>
      new RateLimitService({
        redis: new RedisRateLimitAdapter(redis, keys),
        settings: {
          defaultLimit: config.RATE_LIMIT_DEFAULT,
          windowMs: config.RATE_LIMIT_WINDOW * 1000,
          ...DEFAULT_RATE_LIMIT_TIMING,
        },
        logger,
        inMemoryGauge: new Gauge({
          name: 'strata_gateway_rate_limit_in_memory',
          help: '1 while this gateway decides rate limits in process memory because Redis is unreachable (each gateway then allows the full limit), else 0.',
          registers: [registry],
        }),
      }),
  },
];
