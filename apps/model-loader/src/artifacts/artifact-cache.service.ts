import { Inject, Injectable } from '@nestjs/common';
import { ARTIFACT_FILES, validateModelName, validateVersion } from '@strata/artifact-layout';
import type { ClearResult, EnsureResult } from '@strata/cache-keys';
import { STRATA_LOGGER } from '@strata/service-kit';
import type { VersionArtifact } from '@strata/model-registry';
import type { Logger } from 'pino';
import { LOADER_SETTINGS, versionKey, type LoaderSettings } from '../loader.settings';
import { ArtifactSourceFactory } from './artifact-source.factory';
import { DiskCacheRepository, type ReservedStaging } from './disk-cache.repository';
import { DownloadService } from './download.service';
import { EvictionService } from './eviction.service';
import {
  ChecksumError,
  DiskFullError,
  FetchFailedError,
  isNoSpace,
  messageOf,
  SourceError,
  type SourceKind,
} from './loader-errors';
import { LoaderMetrics } from './loader.metrics';
import { LruIndexRepository } from './lru-index.repository';
import { REGISTRY_READER, type RegistryReader } from './registry-reader';
import { StartupGate } from './startup-gate';
import { VersionLockService, type VersionLock } from './version-lock.service';

/** A finished download, for its log line: where from, and how long each phase took (ms). */
interface Downloaded {
  source: SourceKind;
  alreadyPresent: boolean;
  timings: Record<string, number>;
}

/** How long the early GET of weights.onnx may wait for the reservation before it is dropped. */
const EARLY_OPEN_MAX_IDLE_MS = 5000;

/** How long `clear` waits for a version that is being downloaded before it skips it. */
const CLEAR_WAIT_MS = 2000;

/**
 * The disk artifact cache of one domain: `ensure` answers with the path of a verified copy,
 * downloading it first if needed (one download per version across every loader of the domain),
 * `evict` and `clear` remove versions no worker holds.
 */
@Injectable()
export class ArtifactCacheService {
  /** Ensures in flight in this process, per version: they share one outcome. */
  private readonly inflight = new Map<string, Promise<EnsureResult>>();

  constructor(
    private readonly disk: DiskCacheRepository,
    private readonly lru: LruIndexRepository,
    private readonly locks: VersionLockService,
    private readonly downloads: DownloadService,
    private readonly eviction: EvictionService,
    private readonly sources: ArtifactSourceFactory,
    private readonly metrics: LoaderMetrics,
    private readonly startup: StartupGate,
    @Inject(REGISTRY_READER) private readonly registry: RegistryReader,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
  ) {}

  async ensure(ref: { model: unknown; version: unknown }): Promise<EnsureResult> {
    const model = validateModelName(ref.model);
    const version = validateVersion(ref.version as number | string);
    await this.startup.diskReady;
    if (await this.tryHit(model, version)) {
      this.metrics.hits.inc();
      return { path: this.disk.versionPath(model, version), cached: true };
    }
    this.metrics.misses.inc();
    const key = versionKey(model, version);
    let shared = this.inflight.get(key);
    if (!shared) {
      shared = this.load(model, version).finally(() => this.inflight.delete(key));
      this.inflight.set(key, shared);
    }
    return shared;
  }

  /** A worker no longer needs the version: remove it unless DISK_CACHE_CLEANUP=false or held. */
  async evict(ref: { model: unknown; version: unknown }): Promise<{ evicted: boolean }> {
    const model = validateModelName(ref.model);
    const version = validateVersion(ref.version as number | string);
    await this.startup.diskReady;
    if (!this.settings.cleanup) return { evicted: false };
    const outcome = await this.eviction.evictVersion(model, version, 'unload');
    if (!outcome.evicted)
      this.logger.info({ model, version }, `kept ${model}/${version}: ${outcome.why}`);
    await this.eviction.refreshUsage();
    return { evicted: outcome.evicted };
  }

  /** Removes every cached version of `model` (or of every model) that no worker holds. */
  async clear(data: { model?: unknown }): Promise<ClearResult> {
    const model = data.model === undefined ? undefined : validateModelName(data.model);
    await this.startup.diskReady;
    let removed = 0;
    for (const v of await this.disk.listVersions(model)) {
      const outcome = await this.eviction.evictVersion(v.model, v.version, 'clear', CLEAR_WAIT_MS);
      if (outcome.evicted) removed++;
      else this.logger.info(`clear kept ${v.model}/${v.version}: ${outcome.why}`);
    }
    await this.eviction.refreshUsage();
    return { removed };
  }

  /**
   * A committed copy is a verified one. The touch also reveals a held download lock: an evictor
   * may be removing the version right now, so the slow path (which waits for it) decides.
   */
  private async tryHit(model: string, version: number): Promise<boolean> {
    if (!(await this.disk.isPresent(model, version))) return false;
    try {
      const { lockHeld } = await this.lru.touch(
        model,
        version,
        this.disk.versionPath(model, version),
      );
      return !lockHeld;
    } catch (err) {
      // No Redis, no lock holder either: the copy on disk stands.
      this.logger.warn({ err }, `LRU touch of ${model}/${version}: ${messageOf(err)}`);
      return true;
    }
  }

  private async load(model: string, version: number): Promise<EnsureResult> {
    const t0 = performance.now();
    const path = this.disk.versionPath(model, version);
    const present = () => this.disk.isPresent(model, version);
    // Looked up while the lock is awaited: a cold ensure pays one round trip less.
    const record = this.registry.resolveArtifact(model, version);
    record.catch(() => undefined);
    const got = await this.locks.acquire(model, version, present);
    if ('done' in got) {
      await this.touchQuietly(model, version);
      return { path, cached: false };
    }
    const lock = got.lock;
    let done: Downloaded | undefined;
    try {
      if (!(await present())) {
        const lockedAt = performance.now();
        const resolved = await record;
        const resolvedAt = performance.now();
        done = await this.download(model, version, resolved, lock);
        done.timings = {
          lockMs: lockedAt - t0,
          registryMs: resolvedAt - lockedAt,
          ...done.timings,
        };
      }
      // One connection, sent in this order: the touch lands before an evictor can take the lock.
      await Promise.all([this.touchQuietly(model, version), lock.release()]);
      // The gauge can follow the answer (it lists the whole cache directory).
      if (done) void this.eviction.refreshUsage().catch(() => undefined);
    } finally {
      await lock.release();
    }
    if (done) {
      const ms: Record<string, number> = { ...done.timings, totalMs: performance.now() - t0 };
      for (const k of Object.keys(ms)) ms[k] = Math.round(ms[k]);
      this.logger.info(
        {
          model,
          version,
          source: done.source,
          alreadyPresent: done.alreadyPresent,
          ...ms,
        },
        `downloaded ${model}/${version} from ${done.source}`,
      );
    }
    return { path, cached: false };
  }

  private async download(
    model: string,
    version: number,
    record: VersionArtifact,
    lock: VersionLock,
  ): Promise<Downloaded> {
    const began = performance.now();
    const expected = { model, version, manifestDigest: record.manifestDigest };
    const sources = this.sources.forVersion(model, version, record);
    // While the space is reserved: the first manifest is fetched, and weights.onnx (nearly all
    // the bytes of a version) is already requested, its bytes queueing in the socket.
    const firstManifest = this.downloads.fetchManifest(sources[0], expected);
    firstManifest.catch(() => undefined);
    const early = this.downloads.openEarly(sources[0], ARTIFACT_FILES.weights);
    let ok = false;
    try {
      const staging = await this.eviction.reserve(model, version, record.sizeBytes, lock);
      const reserveMs = performance.now() - began;
      // A connection left idle that long may be closed by the server: ask again instead.
      if (reserveMs > EARLY_OPEN_MAX_IDLE_MS) early.cancel();
      const failures: (ChecksumError | SourceError)[] = [];
      try {
        for (const [i, source] of sources.entries()) {
          const started = performance.now();
          try {
            const manifest = await (i === 0
              ? firstManifest
              : this.downloads.fetchManifest(source, expected));
            const fetchStarted = performance.now();
            await this.fetchWithSpace(staging, model, version, record.sizeBytes, () =>
              this.downloads.fetchFiles(staging, source, manifest, i === 0 ? early : undefined),
            );
            const commitStarted = performance.now();
            const committed = await staging.commit(model, version);
            const committedAt = performance.now();
            this.metrics.download(source.kind, 'ok');
            this.metrics.downloadDuration.observe(
              { source: source.kind },
              (committedAt - started) / 1000,
            );
            ok = true;
            return {
              source: source.kind,
              alreadyPresent: committed.alreadyPresent,
              timings: {
                reserveMs,
                untilFilesMs: fetchStarted - started,
                filesMs: commitStarted - fetchStarted,
                commitMs: committedAt - commitStarted,
              },
            };
          } catch (err) {
            early.cancel();
            this.metrics.download(source.kind, 'error');
            if (err instanceof ChecksumError)
              this.metrics.verificationFailures.inc({ phase: 'download' });
            if (!(err instanceof ChecksumError || err instanceof SourceError)) throw err;
            this.logger.warn(
              { model, version, source: source.kind, err },
              `fetching ${model}/${version} from ${source.kind} failed: ${err.message}`,
            );
            failures.push(err);
            await staging.reset();
          }
        }
        throw new FetchFailedError(model, version, failures, record.originUrl !== null);
      } finally {
        await staging.discard();
      }
    } finally {
      early.cancel();
      // After a success the caller refreshes it, alongside the lock's release.
      if (!ok) await this.eviction.refreshUsage().catch(() => undefined);
    }
  }

  /** ENOSPC while writing: evict for the space the version needs, then try once more. */
  private async fetchWithSpace<T>(
    staging: ReservedStaging,
    model: string,
    version: number,
    bytes: number,
    fetch: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fetch();
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      await staging.reset();
      const freed = await this.eviction.freeForNoSpace(model, version, bytes);
      if (freed.bytes === 0)
        throw new DiskFullError(
          `the disk is full (${messageOf(err)}) while writing ${model}/${version} and nothing could be evicted; kept: ${freed.kept.join(', ') || 'nothing cached'}`,
        );
      try {
        return await fetch();
      } catch (again) {
        if (!isNoSpace(again)) throw again;
        await staging.reset();
        throw new DiskFullError(
          `the disk is full (${messageOf(again)}) while writing ${model}/${version}, even after evicting ${freed.bytes} bytes`,
        );
      }
    }
  }

  private async touchQuietly(model: string, version: number): Promise<void> {
    await this.lru
      .touch(model, version, this.disk.versionPath(model, version))
      .catch((err: unknown) => {
        this.logger.warn({ err }, `LRU touch of ${model}/${version}: ${messageOf(err)}`);
      });
  }
}
