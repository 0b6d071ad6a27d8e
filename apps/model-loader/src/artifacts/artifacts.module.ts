import { Module } from '@nestjs/common';
import type { Config } from '@strata/config';
import { ModelLeases } from '@strata/loader-client';
import { HttpOriginSource, ModelRegistryRepository, S3ArtifactStore } from '@strata/model-registry';
import {
  PRISMA_CLIENT,
  QueueWorkerModule,
  REDIS_CLIENT,
  STRATA_CONFIG,
  type DatabaseClient,
  type RedisClient,
} from '@strata/service-kit';
import { LOADER_SETTINGS, loaderSettings } from '../loader.settings';
import { ArtifactCacheService } from './artifact-cache.service';
import { ARTIFACT_STORE, ArtifactSourceFactory, ORIGIN_SOURCE } from './artifact-source.factory';
import { DiskCacheRepository } from './disk-cache.repository';
import { DownloadService } from './download.service';
import { EvictionService } from './eviction.service';
import { LoaderMetrics } from './loader.metrics';
import { LruIndexRepository } from './lru-index.repository';
import { ModelLoadProcessor } from './model-load.processor';
import { ReconcileService } from './reconcile.service';
import { REGISTRY_READER } from './registry-reader';
import { S3StoreCloser } from './s3-store.closer';
import { StartupGate } from './startup-gate';
import { VersionLockService } from './version-lock.service';

/** The artifact cache of the domain and its `model-load:{domain}` consumer. */
@Module({
  imports: [QueueWorkerModule],
  providers: [
    { provide: LOADER_SETTINGS, inject: [STRATA_CONFIG], useFactory: loaderSettings },
    {
      provide: ARTIFACT_STORE,
      inject: [STRATA_CONFIG],
      useFactory: (config: Config) => S3ArtifactStore.fromConfig(config),
    },
    S3StoreCloser,
    { provide: ORIGIN_SOURCE, useFactory: () => new HttpOriginSource() },
    {
      provide: REGISTRY_READER,
      inject: [PRISMA_CLIENT],
      useFactory: (prisma: DatabaseClient) => new ModelRegistryRepository(prisma),
    },
    {
      provide: ModelLeases,
      inject: [REDIS_CLIENT, STRATA_CONFIG],
      useFactory: (redis: RedisClient, config: Config) =>
        new ModelLeases(redis, config.REDIS_KEY_PREFIX),
    },
    LoaderMetrics,
    StartupGate,
    DiskCacheRepository,
    LruIndexRepository,
    VersionLockService,
    DownloadService,
    ArtifactSourceFactory,
    EvictionService,
    ArtifactCacheService,
    ReconcileService,
    ModelLoadProcessor,
  ],
  exports: [ArtifactCacheService, ReconcileService],
})
export class ArtifactsModule {}
