import type { ModelVersionRef } from '@strata/cache-keys';
import type { Config } from '@strata/config';
import { diskMember } from '@strata/loader-client';

/** What the model-loader takes from the configuration, in the units its code uses. */
export interface LoaderSettings {
  /** MODEL_CACHE_DIR, absolute. */
  readonly cacheDir: string;
  /** CACHE_DOMAIN. */
  readonly domain: string;
  /** MODEL_DISK_CACHE_MAX_BYTES. */
  readonly maxBytes: number;
  /** DISK_CACHE_CLEANUP: `evict` (a worker unloaded the version) removes files. */
  readonly cleanup: boolean;
  /** VERIFY_ON_START: hash every cached file at startup (sizes are always checked). */
  readonly verifyOnStart: boolean;
  /** PINNED_MODELS: fetched before ready, never evicted for space. */
  readonly pinned: readonly ModelVersionRef[];
  /** ARTIFACT_DOWNLOAD_LOCK_TIMEOUT in ms. */
  readonly lockTimeoutMs: number;
  /** ARTIFACT_DOWNLOAD_LOCK_TTL in ms. */
  readonly lockTtlMs: number;
  /** LOADER_CONCURRENCY. */
  readonly concurrency: number;
  /** S3_PREFIX. */
  readonly s3Prefix: string;
}

export const LOADER_SETTINGS = Symbol('LOADER_SETTINGS');

export function loaderSettings(config: Config): LoaderSettings {
  return {
    cacheDir: config.MODEL_CACHE_DIR,
    domain: config.CACHE_DOMAIN,
    maxBytes: config.MODEL_DISK_CACHE_MAX_BYTES,
    cleanup: config.DISK_CACHE_CLEANUP,
    verifyOnStart: config.VERIFY_ON_START,
    pinned: config.PINNED_MODELS.map((entry) => {
      const [model, version] = entry.split('/');
      return { model, version: Number(version) };
    }),
    lockTimeoutMs: config.ARTIFACT_DOWNLOAD_LOCK_TIMEOUT * 1000,
    lockTtlMs: config.ARTIFACT_DOWNLOAD_LOCK_TTL * 1000,
    concurrency: config.LOADER_CONCURRENCY,
    s3Prefix: config.S3_PREFIX,
  };
}

/** `model/version`: the member of the LRU index and ready list, and the key of in-process maps. */
export const versionKey = diskMember;
