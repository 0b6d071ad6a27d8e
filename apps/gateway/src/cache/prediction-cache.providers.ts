import type { Provider } from '@nestjs/common';
import type { RedisKeys } from '@strata/cache-keys';
import {
  ModelRegistryRepository,
  PredictionCacheAdmin,
  RegistryEvents,
} from '@strata/model-registry';
import {
  METRICS_REGISTRY,
  REDIS_CLIENT,
  RedisConnectionFactory,
  STRATA_LOGGER,
  type RedisClient,
} from '@strata/service-kit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GATEWAY_SETTINGS, type GatewaySettings } from '../gateway-settings';
import { InferenceService } from '../inference/inference.service';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { REDIS_KEYS } from '../tokens';
import { PredictionCacheMetrics } from './prediction-cache.metrics';
import { PredictionCacheService } from './prediction-cache.service';
import { PredictionNoticesSubscriber } from './prediction-notices.subscriber';
import { PredictionStore } from './prediction-store.adapter';

/** How often a waiter on another gateway's computation looks again without a notice. */
const WAIT_POLL_MS = 100;

/** The prediction cache and its parts, for GatewayModule. */
export const PREDICTION_CACHE_PROVIDERS: Provider[] = [
  {
    provide: PredictionCacheAdmin,
    inject: [ModelRegistryRepository, REDIS_CLIENT, REDIS_KEYS, STRATA_LOGGER],
    useFactory: (
      repository: ModelRegistryRepository,
      redis: RedisClient,
      keys: RedisKeys,
      logger: Logger,
    ) =>
      new PredictionCacheAdmin({
        repository,
        events: new RegistryEvents(redis, keys, {
          log: (level, message) => logger[level === 'warn' ? 'warn' : 'info'](message),
        }),
      }),
  },
  {
    provide: PredictionNoticesSubscriber,
    inject: [RedisConnectionFactory, REDIS_KEYS, STRATA_LOGGER],
    useFactory: (connections: RedisConnectionFactory, keys: RedisKeys, logger: Logger) =>
      new PredictionNoticesSubscriber(
        connections.create('worker', 'prediction-notices'),
        keys.predictionsChannel(),
        logger,
      ),
  },
  {
    provide: PredictionCacheService,
    inject: [
      InferenceService,
      REDIS_CLIENT,
      REDIS_KEYS,
      PredictionNoticesSubscriber,
      METRICS_REGISTRY,
      GatewayMetrics,
      GATEWAY_SETTINGS,
      STRATA_LOGGER,
    ],
    useFactory: (
      inference: InferenceService,
      redis: RedisClient,
      keys: RedisKeys,
      notices: PredictionNoticesSubscriber,
      registry: Registry,
      gatewayMetrics: GatewayMetrics,
      s: GatewaySettings,
      logger: Logger,
    ) =>
      new PredictionCacheService({
        compute: (target, inputs, options) => inference.infer(target, inputs, options),
        store: new PredictionStore(redis, keys),
        notices,
        metrics: new PredictionCacheMetrics(registry, gatewayMetrics.caches),
        settings: {
          ...s.predictionCache,
          waitTimeoutMs: s.inferTimeoutMs,
          pollMs: WAIT_POLL_MS,
        },
        logger,
      }),
  },
];
