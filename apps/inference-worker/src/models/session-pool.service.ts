import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ARTIFACT_FILES } from '@strata/artifact-layout';
import { JobError, type ModelVersionRef } from '@strata/cache-keys';
import type { Logger } from 'pino';
import { planBatching, type BatchingPlan } from '../batching/batch-axes';
import {
  BatchConfigError,
  NO_BATCHING_CONFIG,
  parseBatchingConfig,
  type BatchingConfig,
} from '../batching/batch-config';
import { ModelBatcher } from '../batching/model-batcher';
import type { Clock } from '../clock';
import { messageOf, toJobError } from '../inference/infer-errors';
import type { WorkerMetrics } from '../metrics/worker.metrics';
import type { ModelSession, SessionFactory } from '../ort/model-session';
import type { WorkerSettings } from '../worker-settings';
import type { LeaseKeeper } from './lease-keeper.service';
import { inputSpecsOf, type LoadedModel } from './loaded-model';
import { LruPolicy, type EvictionReason } from './lru-policy';
import type { MemoryProbe } from './memory.probe';
import type { ModelSource } from './model-source';
import { modelKey } from './model-ref';

export type PoolSettings = Pick<
  WorkerSettings,
  | 'maxActiveModels'
  | 'evictBatch'
  | 'pinned'
  | 'idleTtlMs'
  | 'memoryFreeThreshold'
  | 'memoryCheckIntervalMs'
  | 'modelLoadTimeoutMs'
  | 'batchMaxSize'
  | 'batchMaxDelayMs'
>;

export interface SessionPoolDeps {
  readonly source: ModelSource;
  readonly sessions: SessionFactory;
  readonly leases: LeaseKeeper;
  readonly memory: MemoryProbe;
  readonly metrics: WorkerMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: PoolSettings;
}

/** A model in use: call `release()` when the request is done with it. */
export interface ModelLease {
  readonly model: LoadedModel;
  release(): void;
}

export interface EnsureLoadedResult {
  readonly model: LoadedModel;
  readonly alreadyLoaded: boolean;
  readonly loadMs: number;
}

interface Slot {
  readonly model: LoadedModel;
  inFlight: number;
  onIdle?: () => void;
}

/** What /loaded-style listings show of a loaded model. */
export interface LoadedModelInfo {
  readonly model: string;
  readonly version: number;
  readonly pinned: boolean;
  readonly loadedAt: number;
  readonly lastUsed: number;
  readonly inFlight: number;
  readonly batching: boolean;
}

/**
 * The ONNX Runtime sessions of the worker: an LRU of at most MAX_ACTIVE_MODELS versions.
 *
 * - A cold version is loaded once however many requests want it at the same time (one promise
 *   per version); other models keep serving meanwhile. Loading = lease, files from the
 *   model-loader, environment.json, session, placement.
 * - Full: the 3 least recently used unpinned versions go before the new one loads; every use
 *   refreshes a version; pinned versions (PINNED_MODELS) are never evicted.
 * - Idle versions go after MODEL_IDLE_TTL; while free memory is under MEMORY_FREE_THRESHOLD the
 *   least recently used go one per check.
 * - An evicted version leaves the pool at once (new requests load it again); its session closes
 *   when the requests still using it are done, then its lease and placement are released and
 *   the loader is told (it drops the files when DISK_CACHE_CLEANUP is on and no one holds them).
 */
export class SessionPool {
  private readonly slots = new Map<string, Slot>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();
  private readonly closing = new Set<Promise<void>>();
  private readonly policy: LruPolicy;
  private readonly pinnedKeys: ReadonlySet<string>;
  private readonly timers: NodeJS.Timeout[] = [];
  private memoryCheck?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: SessionPoolDeps) {
    const s = deps.settings;
    this.policy = new LruPolicy({ maxActive: s.maxActiveModels, evictBatch: s.evictBatch });
    this.pinnedKeys = new Set(s.pinned.map(modelKey));
  }

  /** Starts the idle and memory checks. */
  start(): void {
    const s = this.deps.settings;
    if (s.idleTtlMs > 0) {
      const every = Math.min(Math.max(Math.floor(s.idleTtlMs / 4), 1000), 60_000);
      this.every(every, () => this.sweepIdle());
    }
    if (s.memoryFreeThreshold > 0) this.every(s.memoryCheckIntervalMs, () => this.checkMemory());
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      fn().catch((err) =>
        this.deps.logger.warn({ err }, `session pool check failed: ${messageOf(err)}`),
      );
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  get size(): number {
    return this.slots.size;
  }

  isLoaded(ref: ModelVersionRef): boolean {
    return this.slots.has(modelKey(ref));
  }

  list(): LoadedModelInfo[] {
    return [...this.slots.values()].map(({ model, inFlight }) => ({
      model: model.ref.model,
      version: model.ref.version,
      pinned: model.pinned,
      loadedAt: model.loadedAt,
      lastUsed: this.policy.lastUsed(model.key) ?? model.loadedAt,
      inFlight,
      batching: model.batching.enabled,
    }));
  }

  /** The model, loaded first if needed; the caller must `release()` the lease. */
  async acquire(ref: ModelVersionRef): Promise<ModelLease> {
    const key = modelKey(ref);
    // A version evicted between its load and this line is simply loaded again.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!this.slots.has(key)) await this.load(ref);
      const slot = this.slots.get(key);
      if (slot) return this.lease(slot);
    }
    throw new JobError(
      'UNAVAILABLE',
      `model "${ref.model}" version ${ref.version} was evicted while it loaded, three times over`,
    );
  }

  /** Loads the version if needed (the `load` job and pinned models). */
  async ensureLoaded(ref: ModelVersionRef): Promise<EnsureLoadedResult> {
    const key = modelKey(ref);
    const slot = this.slots.get(key);
    if (slot) {
      this.policy.touch(key, this.deps.clock.now());
      return { model: slot.model, alreadyLoaded: true, loadMs: 0 };
    }
    const started = performance.now();
    const model = await this.load(ref);
    return { model, alreadyLoaded: false, loadMs: performance.now() - started };
  }

  private lease(slot: Slot): ModelLease {
    slot.inFlight += 1;
    this.policy.touch(slot.model.key, this.deps.clock.now());
    let released = false;
    return {
      model: slot.model,
      release: () => {
        if (released) return;
        released = true;
        slot.inFlight -= 1;
        if (slot.inFlight === 0) slot.onIdle?.();
      },
    };
  }

  /** One load per version at a time, whoever asks. */
  private load(ref: ModelVersionRef): Promise<LoadedModel> {
    if (this.stopped)
      return Promise.reject(new JobError('UNAVAILABLE', 'the worker is shutting down'));
    const key = modelKey(ref);
    const existing = this.loading.get(key);
    if (existing) return existing;
    this.admit();
    const promise = this.doLoad(ref).finally(() => this.loading.delete(key));
    this.loading.set(key, promise);
    return promise;
  }

  /** Room for one more: the least recently used go when the pool is full. */
  private admit(): void {
    for (const key of this.policy.victimsForAdmission(this.loading.size))
      void this.evictKey(key, 'lru');
    if (this.deps.settings.memoryFreeThreshold > 0) void this.checkMemory();
  }

  private async doLoad(ref: ModelVersionRef): Promise<LoadedModel> {
    const { source, sessions, leases, metrics, clock, logger, settings } = this.deps;
    const key = modelKey(ref);
    const started = performance.now();
    let session: ModelSession | undefined;
    let cached: boolean | undefined;
    let via: string | undefined;
    try {
      await leases.hold(ref).catch((err) => {
        throw new JobError(
          'UNAVAILABLE',
          `cannot take a lease on ${key} (Redis): ${messageOf(err)}`,
          { cause: err },
        );
      });
      const files = await source.ensure(ref, settings.modelLoadTimeoutMs);
      cached = files.cached;
      via = files.via;
      if (via) metrics.filesFrom.inc({ via });
      const config = await this.readBatchingConfig(files.path, key);
      session = await sessions
        .create(path.join(files.path, ARTIFACT_FILES.weights))
        .catch((err) => {
          throw new JobError(
            'INTERNAL',
            `model "${ref.model}" version ${ref.version}: ONNX Runtime could not open it: ${messageOf(err)}`,
            { cause: err },
          );
        });
      const batching = this.plan(session, config, key);
      const pinned = this.pinnedKeys.has(key);
      const model: LoadedModel = {
        ref,
        key,
        path: files.path,
        session,
        batching,
        batcher: new ModelBatcher(session, batching, {
          clock,
          onRun: (r) => {
            metrics.compute.observe({ model: ref.model }, r.computeMs / 1000);
            metrics.batchSize.observe({ model: ref.model }, r.items);
          },
          onFallback: (reason) => {
            metrics.batchFallbacks.inc({ model: ref.model });
            logger.warn(
              { model: ref.model, version: ref.version },
              `${key}: batch ran request by request: ${reason}`,
            );
          },
        }),
        inputSpecs: inputSpecsOf(session.inputs),
        outputNames: session.outputs.map((o) => o.name),
        pinned,
        loadedAt: clock.now(),
      };
      if (this.stopped) throw new JobError('UNAVAILABLE', 'the worker is shutting down');
      this.slots.set(key, { model, inFlight: 0 });
      this.policy.add(key, clock.now(), pinned);
      await leases.placed(ref);
      const ms = performance.now() - started;
      metrics.loads.inc({ model: ref.model, outcome: 'ok' });
      metrics.loadDuration.observe({ model: ref.model, disk_cache: String(cached) }, ms / 1000);
      metrics.loadedModels.set(this.slots.size);
      logger.info(
        {
          model: ref.model,
          version: ref.version,
          ms: Math.round(ms),
          diskCache: cached,
          filesVia: via,
          pinned,
          batching: batching.enabled,
          batchingOff: batching.reason,
        },
        `loaded ${key} in ${Math.round(ms)} ms`,
      );
      return model;
    } catch (err) {
      const error = toJobError(err);
      metrics.loads.inc({ model: ref.model, outcome: 'error' });
      logger.warn(
        { model: ref.model, version: ref.version, code: error.code, err },
        `loading ${key} failed: ${error.message}`,
      );
      if (session && !this.slots.has(key)) await session.release().catch(() => undefined);
      if (!this.slots.has(key)) await leases.drop(ref);
      throw error;
    }
  }

  private async readBatchingConfig(dir: string, key: string): Promise<BatchingConfig> {
    let text: string;
    try {
      text = await readFile(path.join(dir, ARTIFACT_FILES.environment), 'utf8');
    } catch {
      return NO_BATCHING_CONFIG;
    }
    try {
      return parseBatchingConfig(JSON.parse(text));
    } catch (err) {
      // Preprocessing settings are not this worker's business; a broken batching section only
      // costs batching, never the model.
      this.deps.logger.warn(
        { err },
        `${key}: environment.json ignored for batching: ${messageOf(err)}`,
      );
      return { ...NO_BATCHING_CONFIG, enabled: false };
    }
  }

  private plan(session: ModelSession, config: BatchingConfig, key: string): BatchingPlan {
    const defaults = {
      maxSize: this.deps.settings.batchMaxSize,
      maxDelayMs: this.deps.settings.batchMaxDelayMs,
    };
    try {
      return planBatching(session.inputs, session.outputs, config, defaults);
    } catch (err) {
      if (!(err instanceof BatchConfigError)) throw err;
      this.deps.logger.warn({ err }, `${key}: batching off: ${err.message}`);
      return planBatching(
        session.inputs,
        session.outputs,
        { ...NO_BATCHING_CONFIG, enabled: false },
        defaults,
      );
    }
  }

  /** Unloads one version (or every version of a model); pinned ones too: an operator asked. */
  async unload(model: string, version?: number): Promise<number> {
    const keys = [...this.slots.values()]
      .filter(
        (s) =>
          s.model.ref.model === model && (version === undefined || s.model.ref.version === version),
      )
      .map((s) => s.model.key);
    await Promise.all(keys.map((k) => this.evictKey(k, 'manual')));
    return keys.length;
  }

  /** Unloads everything but pinned versions. */
  async clear(): Promise<number> {
    const keys = [...this.slots.values()].filter((s) => !s.model.pinned).map((s) => s.model.key);
    await Promise.all(keys.map((k) => this.evictKey(k, 'manual')));
    return keys.length;
  }

  async sweepIdle(): Promise<string[]> {
    const keys = this.policy.idle(this.deps.clock.now(), this.deps.settings.idleTtlMs);
    const idle = keys.filter((k) => (this.slots.get(k)?.inFlight ?? 0) === 0);
    await Promise.all(idle.map((k) => this.evictKey(k, 'idle')));
    return idle;
  }

  /** Evicts the least recently used version while free memory is under the threshold. */
  checkMemory(): Promise<void> {
    this.memoryCheck ??= this.doCheckMemory().finally(() => (this.memoryCheck = undefined));
    return this.memoryCheck;
  }

  private async doCheckMemory(): Promise<void> {
    const threshold = this.deps.settings.memoryFreeThreshold;
    if (threshold <= 0) return;
    const free = await this.deps.memory.freeFraction();
    if (free >= threshold) return;
    // One per check: memory comes back only after the session is released, and the next check
    // measures again before taking another.
    const [victim] = this.policy.leastRecentlyUsed(1);
    if (!victim) return;
    this.deps.logger.warn(
      { free, threshold },
      `free memory ${(free * 100).toFixed(1)}% under ${(threshold * 100).toFixed(1)}%: unloading ${victim}`,
    );
    await this.evictKey(victim, 'memory');
  }

  /** Removes the version from the pool now; resolves once its session is closed. */
  private evictKey(key: string, reason: EvictionReason | 'shutdown'): Promise<void> {
    const slot = this.slots.get(key);
    if (!slot) return Promise.resolve();
    this.slots.delete(key);
    this.policy.remove(key);
    const { metrics, logger } = this.deps;
    metrics.loadedModels.set(this.slots.size);
    if (reason !== 'shutdown') metrics.evicted(slot.model.ref.model, reason);
    logger.info(
      { model: slot.model.ref.model, version: slot.model.ref.version, reason },
      `unloading ${key} (${reason})`,
    );
    const done = this.close(slot, reason !== 'shutdown').finally(() => this.closing.delete(done));
    this.closing.add(done);
    return done;
  }

  private async close(slot: Slot, tellLoader: boolean): Promise<void> {
    if (slot.inFlight > 0) await new Promise<void>((resolve) => (slot.onIdle = resolve));
    const { model } = slot;
    await model.session
      .release()
      .catch((err) =>
        this.deps.logger.warn({ err }, `closing the session of ${model.key}: ${messageOf(err)}`),
      );
    const released = await this.deps.leases.drop(model.ref);
    if (!tellLoader || !released || this.slots.has(model.key) || this.loading.has(model.key))
      return;
    await this.deps.source
      .release(model.ref)
      .catch((err) =>
        this.deps.logger.warn(
          { err },
          `telling the model-loader ${model.key} is unused failed: ${messageOf(err)}`,
        ),
      );
  }

  /** Shutdown: no more loads; every session closes once its requests are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.loading.values()]);
    await Promise.all([...this.slots.keys()].map((k) => this.evictKey(k, 'shutdown')));
    await Promise.all([...this.closing]);
  }
}
