// The loader's services wired by hand (no Nest, no HTTP) against real Redis, s3rver and Postgres.
import type { Config } from '@strata/config';
import { ModelLeases } from '@strata/loader-client';
import { HttpOriginSource, S3ArtifactStore } from '@strata/model-registry';
import { testRedisUrl } from '@strata/testing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ArtifactCacheService } from '../../src/artifacts/artifact-cache.service';
import { ArtifactSourceFactory } from '../../src/artifacts/artifact-source.factory';
import { DiskCacheRepository } from '../../src/artifacts/disk-cache.repository';
import { DownloadService } from '../../src/artifacts/download.service';
import { EvictionService } from '../../src/artifacts/eviction.service';
import { LoaderMetrics } from '../../src/artifacts/loader.metrics';
import { LruIndexRepository } from '../../src/artifacts/lru-index.repository';
import { ReconcileService } from '../../src/artifacts/reconcile.service';
import { StartupGate } from '../../src/artifacts/startup-gate';
import { VersionLockService } from '../../src/artifacts/version-lock.service';
import type { LoaderSettings } from '../../src/loader.settings';
import { BUCKET, S3_PREFIX, type World } from './fixtures';
import { EMBEDDED_S3_CREDENTIALS } from '@strata/embedded-s3';
import { ReadinessService, ServiceLifecycle } from '@strata/service-kit';

export interface Harness {
  readonly settings: LoaderSettings;
  readonly cache: ArtifactCacheService;
  readonly disk: DiskCacheRepository;
  readonly eviction: EvictionService;
  readonly lru: LruIndexRepository;
  readonly leases: ModelLeases;
  readonly metrics: LoaderMetrics;
  readonly registry: Registry;
  readonly readiness: ReadinessService;
  readonly redis: Redis;
  /** Runs startup reconciliation (and PINNED_MODELS) like the service does at boot. */
  reconcile(): Promise<void>;
  /** Value of a metric series, 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export function createHarness(
  world: World,
  cacheDir: string,
  overrides: Partial<LoaderSettings> = {},
  options: { deferStartup?: boolean } = {},
): Harness {
  const settings: LoaderSettings = {
    cacheDir,
    domain: 'harness',
    maxBytes: 10 * 1024 ** 3,
    cleanup: true,
    verifyOnStart: false,
    pinned: [],
    lockTimeoutMs: 30_000,
    lockTtlMs: 10_000,
    concurrency: 4,
    s3Prefix: S3_PREFIX,
    ...overrides,
  };
  const config = { REDIS_KEY_PREFIX: world.redisPrefix } as Config;
  const logger = pino({ level: 'silent' });
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  const registry = new Registry();
  const metrics = new LoaderMetrics(registry);
  const disk = new DiskCacheRepository(settings);
  const lru = new LruIndexRepository(redis, config, settings);
  const locks = new VersionLockService(redis, config, settings, logger, metrics);
  const leases = new ModelLeases(redis, world.redisPrefix);
  const eviction = new EvictionService(disk, lru, locks, leases, metrics, settings, logger);
  // The loader reads S3 through the counting proxy, like the service processes do.
  const store = new S3ArtifactStore({
    bucket: BUCKET,
    endpoint: world.proxy.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...EMBEDDED_S3_CREDENTIALS },
    maxAttempts: 1,
  });
  const sources = new ArtifactSourceFactory(store, new HttpOriginSource(), settings);
  const gate = new StartupGate();
  // Like a loader whose startup is over; `deferStartup` leaves that to `reconcile()`.
  if (!options.deferStartup) gate.markDiskReady();
  const downloads = new DownloadService(metrics);
  const cache = new ArtifactCacheService(
    disk,
    lru,
    locks,
    downloads,
    eviction,
    sources,
    metrics,
    gate,
    world.repo,
    settings,
    logger,
  );
  const readiness = new ReadinessService();
  const lifecycle = new ServiceLifecycle();
  const reconciler = new ReconcileService(
    disk,
    lru,
    locks,
    eviction,
    cache,
    metrics,
    gate,
    settings,
    logger,
    readiness,
    lifecycle,
  );
  return {
    settings,
    cache,
    disk,
    eviction,
    lru,
    leases,
    metrics,
    registry,
    readiness,
    redis,
    async reconcile() {
      reconciler.onApplicationBootstrap();
      await reconciler.whenDone();
    },
    async metric(name, labels = {}) {
      const m = registry.getSingleMetric(name);
      if (!m) throw new Error(`no metric ${name}`);
      const { values } = await m.get();
      const hit = values.find((v) =>
        Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
      );
      return hit?.value ?? 0;
    },
    async close() {
      await lifecycle.drain();
      await downloads.onApplicationShutdown();
      store.destroy();
      redis.disconnect();
    },
  };
}
