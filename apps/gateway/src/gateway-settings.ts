import type { Config } from '@strata/config';

/** Injection token: the {@link GatewaySettings} of the process. */
export const GATEWAY_SETTINGS = Symbol('GATEWAY_SETTINGS');

/** What the gateway needs from its configuration, in the units the code uses. */
export interface GatewaySettings {
  readonly keyPrefix: string;
  readonly inferTimeoutMs: number;
  /** How long a `load` job may take (download included): never less than the infer timeout. */
  readonly loadTimeoutMs: number;
  /** 0 = no limit. */
  readonly maxQueueDepth: number;
  /** How often the queue depth is read at most. */
  readonly depthSampleMs: number;
  readonly maxBodyBytes: number;
  readonly blobThresholdBytes: number;
  readonly imageUrlAllowedHosts: readonly string[];
  readonly imageUrlMaxBytes: number;
  readonly imageUrlTimeoutMs: number;
  /** Decoded images above this many pixels are refused (decompression bombs). */
  readonly imageMaxPixels: number;
  readonly authCacheTtlMs: number;
  readonly metadataTtlMs: number;
  /** AUTH_CACHE_TTL and MODEL_METADATA_CACHE_TTL: the Redis levels of those caches (0 = off). */
  readonly authRedisTtlSeconds: number;
  readonly metadataRedisTtlSeconds: number;
  readonly modelCacheDir: string;
  readonly s3Prefix: string;
  /** The prediction cache (src/cache): off with DISABLE_INFERENCE_CACHE. */
  readonly predictionCache: {
    readonly enabled: boolean;
    readonly defaultTtlSeconds: number;
    readonly maxEntryBytes: number;
  };
}

export function settingsFromConfig(config: Config): GatewaySettings {
  return {
    keyPrefix: config.REDIS_KEY_PREFIX,
    inferTimeoutMs: config.INFER_TIMEOUT_MS,
    loadTimeoutMs: Math.max(config.INFER_TIMEOUT_MS, 300_000),
    maxQueueDepth: config.INFER_MAX_QUEUE_DEPTH,
    depthSampleMs: 100,
    maxBodyBytes: config.GATEWAY_MAX_BODY_BYTES,
    blobThresholdBytes: config.INFER_BLOB_THRESHOLD_BYTES,
    imageUrlAllowedHosts: config.IMAGE_URL_ALLOWED_HOSTS.map((h) => h.toLowerCase()),
    imageUrlMaxBytes: config.IMAGE_URL_MAX_BYTES,
    imageUrlTimeoutMs: config.IMAGE_URL_TIMEOUT_MS,
    imageMaxPixels: 50_000_000,
    authCacheTtlMs: config.AUTH_LOCAL_CACHE_TTL_MS,
    metadataTtlMs: config.MODEL_METADATA_LOCAL_TTL_MS,
    authRedisTtlSeconds: config.AUTH_CACHE_TTL,
    metadataRedisTtlSeconds: config.MODEL_METADATA_CACHE_TTL,
    modelCacheDir: config.MODEL_CACHE_DIR,
    s3Prefix: config.S3_PREFIX,
    predictionCache: {
      enabled: !config.DISABLE_INFERENCE_CACHE,
      defaultTtlSeconds: config.PREDICTION_CACHE_TTL,
      maxEntryBytes: config.PREDICTION_CACHE_MAX_ENTRY_BYTES,
    },
  };
}
