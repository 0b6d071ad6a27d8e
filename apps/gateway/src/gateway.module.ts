import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from '@strata/api-keys';
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
} from '@strata/service-kit';
import { UsageEmitter, UsageEmitterModule, UsageQueryModule } from '@strata/usage';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AdminKeysController } from './admin/admin-keys.controller';
import { AdminModelsController } from './admin/admin-models.controller';
import { ApiKeyAuthService } from './auth/api-key-auth.service';
import { AuthCache } from './auth/auth-cache';
import { AuthGuard } from './auth/auth.guard';
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
import { PlacementReader } from './redis/placement.reader';
import { WorkerCommandsPublisher } from './redis/worker-commands.publisher';
import { ArtifactFilesService } from './registry/artifact-files.service';
import { DiskOrS3ArtifactSource } from './registry/artifact-source.adapter';
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

    // Auth
    {
      provide: ApiKeyService,
      inject: [PRISMA_CLIENT],
      useFactory: (prisma: PrismaClient) => new ApiKeyService(prisma),
    },
    {
      provide: ApiKeyAuthService,
      inject: [ApiKeyService, GATEWAY_SETTINGS, STRATA_LOGGER],
      useFactory: (keys: ApiKeyService, s: GatewaySettings, logger: Logger) =>
        new ApiKeyAuthService(keys, new AuthCache(s.authCacheTtlMs), logger),
    },

    // Registry and artifacts
    {
      provide: ModelRegistryRepository,
      inject: [PRISMA_CLIENT],
      useFactory: (prisma: PrismaClient) => new ModelRegistryRepository(prisma),
    },
    {
      provide: ModelMetadataService,
      inject: [ModelRegistryRepository, GATEWAY_SETTINGS],
      useFactory: (repo: ModelRegistryRepository, s: GatewaySettings) =>
        new ModelMetadataService(repo, s.metadataTtlMs),
    },
    {
      provide: RegistryEventsSubscriber,
      inject: [RedisConnectionFactory, REDIS_KEYS, ModelMetadataService, STRATA_LOGGER],
      useFactory: (
        connections: RedisConnectionFactory,
        keys: RedisKeys,
        metadata: ModelMetadataService,
        logger: Logger,
      ) =>
        new RegistryEventsSubscriber(
          connections.create('worker', 'registry-events'),
          keys.eventsChannel(),
          metadata,
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
        redis: Redis,
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
      inject: [RedisConnectionFactory, GATEWAY_SETTINGS, STRATA_LOGGER],
      useFactory: (connections: RedisConnectionFactory, s: GatewaySettings, logger: Logger) => {
        const prefix = bullPrefix(s.keyPrefix);
        const connection = connections.create('producer', 'infer-queue');
        return new InferQueue({
          queue: new Queue(QUEUE.infer, { connection, prefix }),
          connection,
          createEvents: (lastEventId) =>
            new QueueEvents(QUEUE.infer, {
              connection: connections.create('worker', 'infer-events'),
              prefix,
              lastEventId,
            }),
          logger,
          maxInFlight: MAX_IN_FLIGHT,
        });
      },
    },
    {
      provide: BlobStore,
      inject: [REDIS_CLIENT],
      useFactory: (redis: Redis) => new BlobStore(redis),
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
        redis: Redis,
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
    {
      provide: V2InferenceService,
      inject: [ModelMetadataService, InferenceService, GATEWAY_SETTINGS, InferenceUsage],
      useFactory: (
        metadata: ModelMetadataService,
        inference: InferenceService,
        s: GatewaySettings,
        usage: InferenceUsage,
      ) => new V2InferenceService(metadata, inference, s.maxBodyBytes, usage),
    },

    // Task endpoints
    {
      provide: TaskInferenceService,
      inject: [
        ModelMetadataService,
        ArtifactFilesService,
        InferenceService,
        GATEWAY_SETTINGS,
        InferenceUsage,
      ],
      useFactory: (
        metadata: ModelMetadataService,
        artifacts: ArtifactFilesService,
        inference: InferenceService,
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
          usage,
        ),
    },
    GatewayRuntime,
  ],
})
export class GatewayModule {}
