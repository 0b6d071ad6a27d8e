import { Module } from '@nestjs/common';
import { RedisKeys } from '@strata/cache-keys';
import { ModelLeases, ModelLoaderClient } from '@strata/loader-client';
import {
  METRICS_REGISTRY,
  QueueWorkerModule,
  REDIS_CLIENT,
  RedisConnectionFactory,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type ServiceConfig,
  type RedisClient,
} from '@strata/service-kit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CLOCK, SYSTEM_CLOCK, type Clock } from './clock';
import { WorkerEventsSubscriber } from './events/worker-events.subscriber';
import { InferProcessor } from './inference/infer.processor';
import { InferService } from './inference/infer.service';
import { WorkerMetrics } from './metrics/worker.metrics';
import { LeaseKeeper } from './models/lease-keeper.service';
import { LoaderModelSource } from './models/loader-model-source.adapter';
import { MEMORY_PROBE, SYSTEM_MEMORY_PROBE, type MemoryProbe } from './models/memory.probe';
import {
  LEASE_STORE,
  MODEL_SOURCE,
  type LeaseStore,
  type ModelSource,
} from './models/model-source';
import { SessionPool } from './models/session-pool.service';
import { SESSION_FACTORY, type SessionFactory } from './ort/model-session';
import { OrtSessionFactory } from './ort/ort-session.adapter';
import { BlobRepository } from './redis/blob.repository';
import { InferAnswerPublisher } from './redis/infer-answer.publisher';
import { PlacementRepository } from './redis/placement.repository';
import { RecentInferenceRepository } from './redis/recent-inference.repository';
import { WorkerRuntime } from './worker-runtime.service';
import { WORKER_SETTINGS, settingsFromConfig, type WorkerSettings } from './worker-settings';

/** Injection token: the RedisKeys of the deployment's prefix. */
export const REDIS_KEYS = Symbol('REDIS_KEYS');

/**
 * The `infer` consumer and everything behind it. Pure classes are built by factories here, so
 * tests can assemble them without Nest or override one provider (MODEL_SOURCE, MEMORY_PROBE,
 * CLOCK) and keep the rest real.
 */
@Module({
  imports: [QueueWorkerModule],
  providers: [
    {
      provide: WORKER_SETTINGS,
      inject: [STRATA_CONFIG],
      useFactory: (config: ServiceConfig) => settingsFromConfig(config),
    },
    { provide: CLOCK, useValue: SYSTEM_CLOCK },
    { provide: MEMORY_PROBE, useValue: SYSTEM_MEMORY_PROBE },
    {
      provide: REDIS_KEYS,
      inject: [STRATA_CONFIG],
      useFactory: (config: ServiceConfig) => new RedisKeys(config.REDIS_KEY_PREFIX),
    },
    {
      provide: WorkerMetrics,
      inject: [METRICS_REGISTRY],
      useFactory: (registry: Registry) => new WorkerMetrics(registry),
    },
    {
      provide: SESSION_FACTORY,
      inject: [WORKER_SETTINGS],
      useFactory: (s: WorkerSettings) =>
        new OrtSessionFactory({ intraOpThreads: s.intraOpThreads }),
    },
    {
      provide: LEASE_STORE,
      inject: [REDIS_CLIENT, STRATA_CONFIG],
      useFactory: (redis: RedisClient, config: ServiceConfig) =>
        new ModelLeases(redis, config.REDIS_KEY_PREFIX),
    },
    {
      provide: MODEL_SOURCE,
      inject: [RedisConnectionFactory, STRATA_CONFIG, WORKER_SETTINGS, STRATA_LOGGER],
      useFactory: (
        connections: RedisConnectionFactory,
        config: ServiceConfig,
        s: WorkerSettings,
        logger: Logger,
      ) =>
        new LoaderModelSource(
          new ModelLoaderClient({
            connection: connections.create('producer', 'loader-client'),
            eventsConnection: connections.create('worker', 'loader-events'),
            keyPrefix: config.REDIS_KEY_PREFIX,
            domain: s.cacheDomain,
            defaultTimeoutMs: s.modelLoadTimeoutMs,
            maxInFlight: s.concurrency,
            onError: (err) => logger.debug({ err }, `model-loader events: ${err.message}`),
          }),
          s.workerId,
        ),
    },
    {
      provide: PlacementRepository,
      inject: [REDIS_CLIENT, REDIS_KEYS],
      useFactory: (redis: RedisClient, keys: RedisKeys) => new PlacementRepository(redis, keys),
    },
    {
      provide: LeaseKeeper,
      inject: [LEASE_STORE, PlacementRepository, WORKER_SETTINGS, STRATA_LOGGER],
      useFactory: (
        store: LeaseStore,
        placement: PlacementRepository,
        s: WorkerSettings,
        logger: Logger,
      ) =>
        new LeaseKeeper(
          store,
          placement,
          { domain: s.cacheDomain, workerId: s.workerId, ttlMs: s.leaseTtlMs },
          logger,
        ),
    },
    {
      provide: RecentInferenceRepository,
      inject: [REDIS_CLIENT, REDIS_KEYS, WORKER_SETTINGS],
      useFactory: (redis: RedisClient, keys: RedisKeys, s: WorkerSettings) =>
        new RecentInferenceRepository(redis, keys, {
          workerId: s.workerId,
          limit: s.recentLimit,
          ttlSeconds: s.recentTtlSeconds,
        }),
    },
    {
      provide: BlobRepository,
      inject: [REDIS_CLIENT],
      useFactory: (redis: RedisClient) => new BlobRepository(redis),
    },
    {
      provide: InferAnswerPublisher,
      inject: [REDIS_CLIENT, REDIS_KEYS, STRATA_LOGGER],
      useFactory: (redis: RedisClient, keys: RedisKeys, logger: Logger) =>
        new InferAnswerPublisher(redis, keys, (err) =>
          logger.debug({ err }, 'infer answer not published (the gateway reads the job)'),
        ),
    },
    {
      provide: SessionPool,
      inject: [
        MODEL_SOURCE,
        SESSION_FACTORY,
        LeaseKeeper,
        MEMORY_PROBE,
        WorkerMetrics,
        CLOCK,
        STRATA_LOGGER,
        WORKER_SETTINGS,
      ],
      useFactory: (
        source: ModelSource,
        sessions: SessionFactory,
        leases: LeaseKeeper,
        memory: MemoryProbe,
        metrics: WorkerMetrics,
        clock: Clock,
        logger: Logger,
        settings: WorkerSettings,
      ) => new SessionPool({ source, sessions, leases, memory, metrics, clock, logger, settings }),
    },
    {
      provide: WorkerEventsSubscriber,
      inject: [RedisConnectionFactory, REDIS_KEYS, SessionPool, STRATA_LOGGER],
      useFactory: (
        connections: RedisConnectionFactory,
        keys: RedisKeys,
        pool: SessionPool,
        logger: Logger,
      ) => new WorkerEventsSubscriber(connections.create('worker', 'events'), keys, pool, logger),
    },
    {
      provide: InferService,
      inject: [
        SessionPool,
        BlobRepository,
        RecentInferenceRepository,
        WorkerMetrics,
        REDIS_KEYS,
        CLOCK,
        STRATA_LOGGER,
        WORKER_SETTINGS,
      ],
      useFactory: (
        pool: SessionPool,
        blobs: BlobRepository,
        recent: RecentInferenceRepository,
        metrics: WorkerMetrics,
        keys: RedisKeys,
        clock: Clock,
        logger: Logger,
        s: WorkerSettings,
      ) =>
        new InferService({
          pool,
          blobs,
          recent,
          metrics,
          keys,
          clock,
          logger,
          workerId: s.workerId,
        }),
    },
    WorkerRuntime,
    InferProcessor,
  ],
  exports: [SessionPool, InferService, WorkerMetrics, WORKER_SETTINGS],
})
export class InferenceModule {}
