import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ApiKeyEvents, ApiKeyService } from '@strata/api-keys';
import { QUEUE, RedisKeys, bullPrefix } from '@strata/cache-keys';
import type { PrismaClient } from '@strata/db';
import {
  ModelAdminService,
  ModelRegistryRepository,
  RegistryEvents,
  S3ArtifactStore,
} from '@strata/model-registry';
import {
  METRICS_REGISTRY,
  PRISMA_CLIENT,
  REDIS_CLIENT,
  RedisConnectionFactory,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type ServiceConfig,
  type RedisClient,
} from '@strata/service-kit';
import { UsageEmitter, UsageEmitterModule, UsageQueryModule } from '@strata/usage';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AdminKeysController } from './admin/admin-keys.controller';
import { AdminModelsController } from './admin/admin-models.controller';
import { ApiKeyAuthService } from './auth/api-key-auth.service';
import { AuthCache } from './auth/auth-cache';
import { AuthRedisStore } from './auth/auth-redis.store';
import { AuthGuard } from './auth/auth.guard';
import { CacheAdminController } from './cache/cache-admin.controller';
import { PREDICTION_CACHE_PROVIDERS } from './cache/prediction-cache.providers';
import { PredictionCacheService } from './cache/prediction-cache.service';
import { GatewayRuntime } from './gateway-runtime.service';
import { GATEWAY_SETTINGS, settingsFromConfig, type GatewaySettings } from './gateway-settings';
import { HttpErrorFilter } from './http/http-error.filter';
import { HttpSetup } from './http/http-setup.service';
import { BlobStore } from './inference/blob-store.adapter';
import { InferQueue } from './inference/infer-queue.adapter';
import { InferenceService } from './inference/inference.service';
import { ModelManagementService } from './inference/model-management.service';
import { QueueDepthGate } from './inference/queue-depth.gate';
import { GatewayMetrics } from './metrics/gateway.metrics';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RATE_LIMIT_PROVIDERS } from './rate-limit/rate-limit.providers';
import { PlacementReader } from './redis/placement.reader';
import { WorkerCommandsPublisher } from './redis/worker-commands.publisher';
import { ArtifactFilesService } from './registry/artifact-files.service';
import { DiskOrS3ArtifactSource } from './registry/artifact-source.adapter';
import { MetadataRedisStore } from './registry/metadata-redis.store';
import { ModelMetadataService } from './registry/model-metadata.service';
import { RegistryEventsSubscriber } from './registry/registry-events.subscriber';
import { ImagePreprocessService } from './tasks/image-preprocess.service';
import { ImageUrlFetcher } from './tasks/image-url.fetcher';
import { RoboflowModelsController } from './tasks/roboflow-models.controller';
import { TaskInferenceController } from './tasks/task-inference.controller';
import { TaskInferenceService } from './tasks/task-inference.service';
import { REDIS_KEYS, S3_STORE } from './tokens';
import { InferenceUsage } from './usage/inference-usage';
import { RecentController } from './usage/recent.controller';
import { UsageController } from './usage/usage.controller';
import { V2InferenceController } from './v2/v2-inference.controller';
import { V2InferenceService } from './v2/v2-inference.service';
import { V2ModelsController } from './v2/v2-models.controller';
import { V2RepositoryController } from './v2/v2-repository.controller';
import { V2ServerController } from './v2/v2-server.controller';

/** Requests a gateway expects to hold at once; sizes listener limits. */
const MAX_IN_FLIGHT = 10_000;
/** Longest wait for Redis in an auth or metadata lookup before it goes on as after a miss. */
const CACHE_REDIS_TIMEOUT_MS = 500;
/** How long Redis remembers that a secret is unknown (made-up keys must not flood Postgres). */
const UNKNOWN_KEY_TTL_SECONDS = 60;

/**
 * The gateway's HTTP API and everything behind it. Pure classes are built by factories here so
 * tests can assemble them without Nest, or override one provider and keep the rest real.
 */
@Module({
  // Here, not global: the emitter's shutdown hook must run before Redis connections close.
  imports: [UsageEmitterModule, UsageQueryModule],
  controllers: [
    V2ServerController,
    V2ModelsController,
    V2InferenceController,
    V2RepositoryController,
    RoboflowModelsController,
    TaskInferenceController,
    AdminKeysController,
    AdminModelsController,
    CacheAdminController,
    UsageController,
    RecentController,
  ],
  providers: [
    {
      provide: GATEWAY_SETTINGS,
      inject: [STRATA_CONFIG],
      useFactory: (config: ServiceConfig) => settingsFromConfig(config),
    },
    {
      provide: REDIS_KEYS,
      inject: [GATEWAY_SETTINGS],
      useFactory: (s: GatewaySettings) => new RedisKeys(s.keyPrefix),
    },
    {
      provide: GatewayMetrics,
      inject: [METRICS_REGISTRY],
      useFactory: (registry: Registry) => new GatewayMetrics(registry),
    },
    HttpSetup,
    { provide: APP_FILTER, useClass: HttpErrorFilter },
    { provide: APP_GUARD, useClass: AuthGuard },
    // After AuthGuard (global guards run in registration order): it limits the verified key.
    { provide: APP_GUARD, useClass: RateLimitGuard },
    ...RATE_LIMIT_PROVIDERS,

    // Auth
    {
      provide: ApiKeyService,
      inject: [PRISMA_CLIENT, REDIS_CLIENT, REDIS_KEYS, GATEWAY_SETTINGS, STRATA_LOGGER],
      useFactory: (
        prisma: PrismaClient,
        redis: RedisClient,
        keys: RedisKeys,
        s: GatewaySettings,
        logger: Logger,
      ) =>
        new ApiKeyService(prisma, {
          // Revocations: a `revoked` entry in Redis, then the `key-revoked` broadcast.
          events: new ApiKeyEvents(redis, keys, {
            revokedTtlSeconds: Math.max(60, s.authRedisTtlSeconds),
            log: (message) => logger.warn(message),
          }),
        }),
    },
    {
      provide: ApiKeyAuthService,
      inject: [
        ApiKeyService,
        REDIS_CLIENT,
        REDIS_KEYS,
        GatewayMetrics,
        GATEWAY_SETTINGS,
        STRATA_LOGGER,
      ],
      useFactory: (
        keys: ApiKeyService,
        redis: RedisClient,
        redisKeys: RedisKeys,
        metrics: GatewayMetrics,
        s: GatewaySettings,
        logger: Logger,
      ) =>
        new ApiKeyAuthService(
          keys,
          new AuthCache(s.authCacheTtlMs, 10_000, Date.now, s.authRedisTtlSeconds * 1000),
          logger,
          {
            redis: new AuthRedisStore(redis, redisKeys, {
              ttlSeconds: s.authRedisTtlSeconds,
              unknownTtlSeconds: UNKNOWN_KEY_TTL_SECONDS,
              timeoutMs: CACHE_REDIS_TIMEOUT_MS,
            }),
            metrics: metrics.caches,
          },
        ),
    },

    // Registry and artifacts
    {
      provide: ModelRegistryRepository,
      inject: [PRISMA_CLIENT],
      useFactory: (prisma: PrismaClient) => new ModelRegistryRepository(prisma),
    },
    {
      provide: ModelMetadataService,
      inject: [
        ModelRegistryRepository,
        REDIS_CLIENT,
        REDIS_KEYS,
        GatewayMetrics,
        GATEWAY_SETTINGS,
        STRATA_LOGGER,
      ],
      useFactory: (
        repo: ModelRegistryRepository,
        redis: RedisClient,
        keys: RedisKeys,
        metrics: GatewayMetrics,
        s: GatewaySettings,
        logger: Logger,
      ) =>
        new ModelMetadataService(repo, {
          localTtlMs: s.metadataTtlMs,
          redis: new MetadataRedisStore(redis, keys, {
            ttlSeconds: s.metadataRedisTtlSeconds,
            timeoutMs: CACHE_REDIS_TIMEOUT_MS,
          }),
          staleMs: s.metadataRedisTtlSeconds * 1000,
          metrics: metrics.caches,
          logger,
        }),
    },
    {
      provide: RegistryEventsSubscriber,
      inject: [
        RedisConnectionFactory,
        REDIS_KEYS,
        ModelMetadataService,
        ApiKeyAuthService,
        STRATA_LOGGER,
      ],
      useFactory: (
        connections: RedisConnectionFactory,
        keys: RedisKeys,
        metadata: ModelMetadataService,
        auth: ApiKeyAuthService,
        logger: Logger,
      ) =>
        new RegistryEventsSubscriber(
          connections.create('worker', 'registry-events'),
          keys.eventsChannel(),
          { metadata, auth },
          logger,
        ),
    },
    {
      provide: S3_STORE,
      inject: [STRATA_CONFIG],
      useFactory: (config: ServiceConfig) =>
        config.S3_BUCKET ? S3ArtifactStore.fromConfig(config, { maxAttempts: 2 }) : undefined,
    },
    {
      provide: ArtifactFilesService,
      inject: [S3_STORE, GATEWAY_SETTINGS],
      useFactory: (store: S3ArtifactStore | undefined, s: GatewaySettings) =>
        new ArtifactFilesService(new DiskOrS3ArtifactSource(s.modelCacheDir, store, s.s3Prefix)),
    },
    {
      provide: ModelAdminService,
      inject: [
        ModelRegistryRepository,
        S3_STORE,
        GATEWAY_SETTINGS,
        REDIS_CLIENT,
        REDIS_KEYS,
        STRATA_LOGGER,
      ],
      useFactory: (
        repository: ModelRegistryRepository,
        store: S3ArtifactStore | undefined,
        s: GatewaySettings,
        redis: RedisClient,
        keys: RedisKeys,
        logger: Logger,
      ) =>
        new ModelAdminService({
          repository,
          store,
          s3Prefix: s.s3Prefix,
          events: new RegistryEvents(redis, keys, {
            log: (level, message) => logger[level === 'warn' ? 'warn' : 'info'](message),
          }),
        }),
    },

    // Usage: one event per inference request (src/usage/inference-usage.ts)
    {
      provide: InferenceUsage,
      inject: [UsageEmitter],
      useFactory: (emitter: UsageEmitter) => new InferenceUsage(emitter),
    },

    // The queue hop
    {
      provide: InferQueue,
      inject: [RedisConnectionFactory, REDIS_KEYS, GATEWAY_SETTINGS, STRATA_LOGGER],
      useFactory: (
        connections: RedisConnectionFactory,
        keys: RedisKeys,
        s: GatewaySettings,
        logger: Logger,
      ) => {
        const connection = connections.create('producer', 'infer-queue');
        return new InferQueue({
          queue: new Queue(QUEUE.infer, { connection, prefix: bullPrefix(s.keyPrefix) }),
          connection,
          // Answers come to this process alone, on a channel named after this instance.
          subscriber: connections.create('worker', 'infer-answers'),
          replyTo: keys.inferAnswers(randomUUID()),
          logger,
          maxInFlight: MAX_IN_FLIGHT,
        });
      },
    },
    {
      provide: BlobStore,
      inject: [REDIS_CLIENT],
      useFactory: (redis: RedisClient) => new BlobStore(redis),
    },
    {
      provide: InferenceService,
      inject: [InferQueue, BlobStore, REDIS_KEYS, GatewayMetrics, GATEWAY_SETTINGS],
      useFactory: (
        queue: InferQueue,
        blobs: BlobStore,
        keys: RedisKeys,
        metrics: GatewayMetrics,
        s: GatewaySettings,
      ) =>
        new InferenceService({
          queue,
          blobs,
          keys,
          metrics,
          settings: s,
          gate: new QueueDepthGate(
            () => queue.waiting(),
            { maxDepth: s.maxQueueDepth, sampleMs: s.depthSampleMs },
            (depth) => metrics.queueDepth.set(depth),
          ),
        }),
    },
    {
      provide: ModelManagementService,
      inject: [
        ModelMetadataService,
        InferenceService,
        REDIS_CLIENT,
        REDIS_KEYS,
        ArtifactFilesService,
      ],
      useFactory: (
        metadata: ModelMetadataService,
        inference: InferenceService,
        redis: RedisClient,
        keys: RedisKeys,
        artifacts: ArtifactFilesService,
      ) =>
        new ModelManagementService(
          metadata,
          inference,
          new PlacementReader(redis, keys),
          new WorkerCommandsPublisher(redis, keys.eventsChannel()),
          artifacts,
        ),
    },
    ...PREDICTION_CACHE_PROVIDERS,
    {
      provide: V2InferenceService,
      inject: [ModelMetadataService, PredictionCacheService, GATEWAY_SETTINGS, InferenceUsage],
      useFactory: (
        metadata: ModelMetadataService,
        predictions: PredictionCacheService,
        s: GatewaySettings,
        usage: InferenceUsage,
      ) => new V2InferenceService(metadata, predictions, s.maxBodyBytes, usage),
    },

    // Task endpoints
    {
      provide: TaskInferenceService,
      inject: [
        ModelMetadataService,
        ArtifactFilesService,
        InferenceService,
        PredictionCacheService,
        GATEWAY_SETTINGS,
        InferenceUsage,
      ],
      useFactory: (
        metadata: ModelMetadataService,
        artifacts: ArtifactFilesService,
        inference: InferenceService,
        predictions: PredictionCacheService,
        s: GatewaySettings,
        usage: InferenceUsage,
      ) =>
        new TaskInferenceService(
          metadata,
          artifacts,
          new ImagePreprocessService(s.imageMaxPixels),
          new ImageUrlFetcher({
            allowedHosts: s.imageUrlAllowedHosts,
            maxBytes: s.imageUrlMaxBytes,
            timeoutMs: s.imageUrlTimeoutMs,
          }),
          inference,
          predictions,
          usage,
        ),
    },
    GatewayRuntime,
  ],
})
export class GatewayModule {}
