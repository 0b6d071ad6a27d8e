import type { RedisKeys } from '@strata/cache-keys';
import type { ModelRecord, VersionMetadata } from '@strata/model-registry';
import { withTimeout } from '@strata/service-kit';
import type { Redis } from 'ioredis';

/** The commands used here; a standalone, Sentinel or Cluster client has them all. */
export type MetadataRedis = Pick<Redis, 'mget' | 'multi'>;

/** What one version resolves to, as cached (`RedisKeys.versionMeta`). */
export interface CachedVersion {
  workspace: string;
  manifestDigest: string;
  metadata: VersionMetadata;
}

/**
 * A read of the Redis level: the model's metadata epoch as it was read, and the entry when one
 * was written under that epoch. The epoch is what a write after a miss must carry.
 */
export interface EpochRead<T> {
  epoch: string;
  value: T | undefined;
}

export interface MetadataRedisStoreOptions {
  /** MODEL_METADATA_CACHE_TTL; 0 = this level is off. */
  ttlSeconds: number;
  /** Longest wait for one Redis call: past it the lookup goes on as after a miss. */
  timeoutMs: number;
}

/**
 * The Redis level of the metadata cache. Three entry kinds per model, compact JSON, all under
 * the model's hash tag: `versionMeta(m, v)` → `{"e","w","d","m"}` (workspace, manifest digest,
 * version metadata), `alias(m, a)` → `{"e","v"}`, `modelMeta(m)` → `{"e","r"}` (the model record).
 *
 * Race safety (a lookup that read old rows must never make them current again): every entry
 * carries `e`, the model's epoch (`RedisKeys.metaEpoch`) read *before* the lookup asked
 * Postgres, and counts only while it equals the current epoch. The registry's publisher
 * increments the epoch after committing a change and before broadcasting it
 * (@strata/model-registry RegistryEvents.publish). A lookup whose Postgres read predates the
 * commit read the epoch before the increment too, so whatever it writes, whenever it writes it,
 * carries an old epoch and is ignored; a plain SET suffices, no script or lock. An unset epoch
 * reads as "0" (Redis restarted empty: nothing stale survives either).
 */
export class MetadataRedisStore {
  constructor(
    private readonly redis: MetadataRedis,
    private readonly keys: RedisKeys,
    private readonly options: MetadataRedisStoreOptions,
  ) {}

  get enabled(): boolean {
    return this.options.ttlSeconds > 0;
  }

  private async read(model: string, key: string): Promise<{ epoch: string; entry?: Entry }> {
    const [epoch, text] = await withTimeout(
      this.redis.mget(this.keys.metaEpoch(model), key),
      this.options.timeoutMs,
    );
    const current = epoch ?? '0';
    const entry = text ? parseEntry(text) : undefined;
    return { epoch: current, entry: entry?.e === current ? entry : undefined };
  }

  async readVersion(model: string, version: number): Promise<EpochRead<CachedVersion>> {
    const { epoch, entry } = await this.read(model, this.keys.versionMeta(model, version));
    return { epoch, value: entry ? toCachedVersion(entry) : undefined };
  }

  async readAlias(model: string, alias: string): Promise<EpochRead<number>> {
    const { epoch, entry } = await this.read(model, this.keys.alias(model, alias));
    const v = entry?.v;
    return { epoch, value: typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined };
  }

  async readModel(model: string): Promise<EpochRead<ModelRecord>> {
    const { epoch, entry } = await this.read(model, this.keys.modelMeta(model));
    return { epoch, value: entry ? toModelRecord(entry.r) : undefined };
  }

  /** Stores a resolved version, and the alias that led to it when it was asked by alias. */
  async writeResolved(
    model: string,
    epoch: string,
    version: number,
    cached: CachedVersion,
    alias?: string,
  ): Promise<void> {
    const ttl = this.options.ttlSeconds;
    const tx = this.redis.multi();
    tx.set(
      this.keys.versionMeta(model, version),
      JSON.stringify({
        e: epoch,
        w: cached.workspace,
        d: cached.manifestDigest,
        m: cached.metadata,
      }),
      'EX',
      ttl,
    );
    if (alias !== undefined) {
      tx.set(this.keys.alias(model, alias), JSON.stringify({ e: epoch, v: version }), 'EX', ttl);
    }
    await withTimeout(tx.exec(), this.options.timeoutMs);
  }

  async writeModel(model: string, epoch: string, record: ModelRecord): Promise<void> {
    const tx = this.redis.multi();
    tx.set(
      this.keys.modelMeta(model),
      JSON.stringify({ e: epoch, r: record }),
      'EX',
      this.options.ttlSeconds,
    );
    await withTimeout(tx.exec(), this.options.timeoutMs);
  }
}

interface Entry {
  e: string;
  [field: string]: unknown;
}

function parseEntry(text: string): Entry | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    return typeof (value as Entry).e === 'string' ? (value as Entry) : undefined;
  } catch {
    return undefined;
  }
}

function isMetadata(m: unknown): m is VersionMetadata {
  if (typeof m !== 'object' || m === null) return false;
  const { taskType, inputs, outputs } = m as Record<string, unknown>;
  return typeof taskType === 'string' && Array.isArray(inputs) && Array.isArray(outputs);
}

function toCachedVersion(entry: Entry): CachedVersion | undefined {
  const { w, d, m } = entry;
  if (typeof w !== 'string' || typeof d !== 'string' || !isMetadata(m)) return undefined;
  return { workspace: w, manifestDigest: d, metadata: m };
}

function date(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** JSON turned Dates into ISO strings; this turns them back and checks the shape. */
function toModelRecord(value: unknown): ModelRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const createdAt = date(r.createdAt);
  if (
    typeof r.name !== 'string' ||
    typeof r.workspace !== 'string' ||
    typeof r.taskType !== 'string' ||
    !createdAt ||
    !Array.isArray(r.versions) ||
    !Array.isArray(r.aliases)
  ) {
    return undefined;
  }
  const versions: ModelRecord['versions'] = [];
  for (const v of r.versions as Record<string, unknown>[]) {
    const created = date(v?.createdAt);
    if (!created || !isMetadata(v.metadata)) return undefined;
    versions.push({
      ...(v as unknown as ModelRecord['versions'][number]),
      createdAt: created,
      deletedAt: v.deletedAt == null ? null : (date(v.deletedAt) ?? null),
    });
  }
  const aliases: ModelRecord['aliases'] = [];
  for (const a of r.aliases as Record<string, unknown>[]) {
    const updatedAt = date(a?.updatedAt);
    if (!updatedAt || typeof a.alias !== 'string' || typeof a.version !== 'number')
      return undefined;
    aliases.push({ alias: a.alias, version: a.version, updatedAt });
  }
  return { ...(r as unknown as ModelRecord), createdAt, versions, aliases };
}
