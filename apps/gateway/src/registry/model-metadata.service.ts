import {
  InvalidNameError,
  validateAlias,
  validateModelName,
  validateVersion,
} from '@strata/artifact-layout';
import {
  LATEST_ALIAS,
  RegistryError,
  type ModelRecord,
  type ModelRegistryRepository,
  type ResolvedVersion,
  type TensorSpec,
} from '@strata/model-registry';
import type { Logger } from 'pino';
import type { CacheAnswer, CacheMetrics, CacheResult } from '../metrics/cache.metrics';
import type { CachedVersion, MetadataRedisStore } from './metadata-redis.store';
import { TtlCache, type TtlCacheOutcome } from './ttl-cache';

/** A ready version, resolved from a number or an alias, with what requests need of it. */
export interface ResolvedModel {
  model: string;
  version: number;
  workspace: string;
  taskType: string;
  manifestDigest: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** `prediction_cache_ttl` of the version's model_type.json (seconds); absent: the default. */
  predictionCacheTtl?: number;
  /** How it was asked for. */
  via: ResolvedVersion['via'];
}

/** The v2 model metadata document (`GET /v2/models/{m}[/versions/{v}]`). */
export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: 'onnxruntime_onnx';
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface ModelMetadataOptions {
  /** MODEL_METADATA_LOCAL_TTL_MS. */
  localTtlMs: number;
  /** The Redis level; without it, process memory then Postgres. */
  redis?: MetadataRedisStore;
  /**
   * How long an expired process copy may still answer while Redis and Postgres both fail
   * (MODEL_METADATA_CACHE_TTL: the staleness a lost broadcast already allows). Default 0.
   */
  staleMs?: number;
  metrics?: CacheMetrics;
  logger?: Logger;
  now?: () => number;
}

/** Failures a stale copy may cover: the source did not answer (not: it said "no such thing"). */
function isOutage(error: unknown): boolean {
  return !(error instanceof RegistryError || error instanceof InvalidNameError);
}

function toResolved(
  model: string,
  version: number,
  v: CachedVersion,
  via: ResolvedVersion['via'],
): ResolvedModel {
  return {
    model,
    version,
    workspace: v.workspace,
    taskType: v.metadata.taskType,
    manifestDigest: v.manifestDigest,
    inputs: v.metadata.inputs,
    outputs: v.metadata.outputs,
    ...(v.metadata.predictionCacheTtl !== undefined && {
      predictionCacheTtl: v.metadata.predictionCacheTtl,
    }),
    via,
  };
}

/**
 * Model metadata for requests: alias → version resolution and inputs/outputs, and model records,
 * cached at two levels: process memory for MODEL_METADATA_LOCAL_TTL_MS, then Redis for
 * MODEL_METADATA_CACHE_TTL (metadata-redis.store.ts, race-safe through the model's epoch), then
 * the registry in Postgres. A registry event naming the model drops its process copies at once
 * (registry-events.subscriber.ts); its publisher has already invalidated the Redis level.
 *
 * Redis failing (down, slow) is a miss at that level, never a failed request. When Postgres
 * fails as well, an expired process copy within the stale window answers.
 */
export class ModelMetadataService {
  private readonly resolved: TtlCache<ResolvedModel>;
  private readonly models: TtlCache<ModelRecord | null>;
  private readonly redis?: MetadataRedisStore;
  private readonly metrics?: CacheMetrics;
  private readonly logger?: Logger;

  constructor(
    private readonly repository: ModelRegistryRepository,
    options: ModelMetadataOptions,
  ) {
    const now = options.now ?? Date.now;
    const stale = { staleMs: options.staleMs ?? 0, canServeStale: isOutage };
    this.resolved = new TtlCache(options.localTtlMs, 4096, now, stale);
    this.models = new TtlCache(options.localTtlMs, 1024, now, stale);
    this.redis = options.redis?.enabled ? options.redis : undefined;
    this.metrics = options.metrics;
    this.logger = options.logger;
  }

  /**
   * `ref` a version number (or its decimal string) or an alias; absent means `latest`. Unknown
   * models, versions and aliases are registry NotFound errors (404); invalid names 400.
   */
  resolve(model: string, ref?: string | number): Promise<ResolvedModel> {
    validateModelName(model);
    let key: string;
    if (ref === undefined || ref === '') key = LATEST_ALIAS;
    else if (typeof ref === 'number' || /^[0-9]+$/.test(ref)) key = String(validateVersion(ref));
    else key = validateAlias(ref);
    return this.lookup(this.resolved, `${model}\u0000${key}`, (answered) =>
      this.loadResolved(model, key, answered),
    );
  }

  /** The model with its ready versions and aliases; null when unknown. */
  getModel(model: string): Promise<ModelRecord | null> {
    validateModelName(model);
    return this.lookup(this.models, model, (answered) => this.loadModel(model, answered));
  }

  /** A lookup at the process level, timed and counted; `load` goes on to Redis and Postgres. */
  private async lookup<V>(
    cache: TtlCache<V>,
    key: string,
    load: (answered: (by: CacheAnswer) => void) => Promise<V>,
  ): Promise<V> {
    const started = performance.now();
    let answer: CacheAnswer = 'process';
    const value = await cache.get(
      key,
      () => load((by) => (answer = by)),
      (how: TtlCacheOutcome) => this.count('process', how),
    );
    this.metrics?.observe('metadata', answer, started);
    return value;
  }

  private async loadResolved(
    model: string,
    key: string,
    answered: (by: CacheAnswer) => void,
  ): Promise<ResolvedModel> {
    const byVersion = /^[0-9]+$/.test(key);
    let epoch: string | undefined;
    if (this.redis) {
      try {
        let version: number | undefined = byVersion ? Number(key) : undefined;
        if (version === undefined) {
          const alias = await this.redis.readAlias(model, key);
          epoch = alias.epoch;
          version = alias.value;
        }
        if (version !== undefined) {
          const found = await this.redis.readVersion(model, version);
          // By alias: both entries must belong to one epoch (an invalidation may fall between).
          const consistent = epoch === undefined || epoch === found.epoch;
          epoch = found.epoch;
          if (found.value && consistent) {
            this.count('redis', 'hit');
            answered('redis');
            return toResolved(
              model,
              version,
              found.value,
              byVersion ? { kind: 'version' } : { kind: 'alias', alias: key },
            );
          }
        }
        this.count('redis', 'miss');
      } catch (err) {
        this.count('redis', 'error');
        this.logger?.debug({ err }, 'metadata cache: Redis lookup failed, asking Postgres');
        epoch = undefined;
      }
    }
    const v = await this.repository.resolve(model, byVersion ? Number(key) : key);
    answered('source');
    const cached: CachedVersion = {
      workspace: v.workspace,
      manifestDigest: v.manifestDigest,
      metadata: v.metadata,
    };
    if (this.redis && epoch !== undefined) {
      void this.redis
        .writeResolved(model, epoch, v.version, cached, byVersion ? undefined : key)
        .catch((err: unknown) => this.logger?.debug({ err }, 'metadata cache: Redis write failed'));
    }
    return toResolved(model, v.version, cached, v.via);
  }

  private async loadModel(
    model: string,
    answered: (by: CacheAnswer) => void,
  ): Promise<ModelRecord | null> {
    let epoch: string | undefined;
    if (this.redis) {
      try {
        const found = await this.redis.readModel(model);
        epoch = found.epoch;
        this.count('redis', found.value ? 'hit' : 'miss');
        if (found.value) {
          answered('redis');
          return found.value;
        }
      } catch (err) {
        this.count('redis', 'error');
        this.logger?.debug({ err }, 'metadata cache: Redis lookup failed, asking Postgres');
      }
    }
    const record = await this.repository.getModel(model);
    answered('source');
    // Unknown models are not kept in Redis: publishing one must not wait for a TTL anywhere.
    if (record && this.redis && epoch !== undefined) {
      void this.redis
        .writeModel(model, epoch, record)
        .catch((err: unknown) => this.logger?.debug({ err }, 'metadata cache: Redis write failed'));
    }
    return record;
  }

  private count(level: 'process' | 'redis', result: CacheResult): void {
    this.metrics?.count('metadata', level, result);
  }

  /** The model as it is now (not cached: an admin path); deleted versions when asked. */
  findModel(
    model: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<ModelRecord | null> {
    return this.repository.getModel(model, options);
  }

  /** Every model (not cached: an admin and listing path). */
  listModels(): Promise<ModelRecord[]> {
    return this.repository.listModels();
  }

  async v2Metadata(model: string, ref?: string): Promise<V2ModelMetadata> {
    const resolved = await this.resolve(model, ref);
    const record = await this.getModel(model);
    const versions = (record?.versions ?? [])
      .filter((v) => v.status === 'ready' && !v.deletedAt)
      .map((v) => String(v.version));
    return {
      name: model,
      versions: ref === undefined ? versions : [String(resolved.version)],
      platform: 'onnxruntime_onnx',
      inputs: resolved.inputs,
      outputs: resolved.outputs,
    };
  }

  /** Drops what is cached about one model (a registry event named it), or everything. */
  invalidate(model?: string): void {
    if (model === undefined) {
      this.resolved.clear();
      this.models.clear();
      return;
    }
    this.resolved.deleteWhere((k) => k.startsWith(`${model}\u0000`));
    this.models.deleteWhere((k) => k === model);
  }
}
