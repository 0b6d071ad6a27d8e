import { bool, bytes, decimal, int, list, oneOf, str, url, type Parser } from './parsers';
import type { ServiceName } from './types';

export interface VarSpec<T> {
  readonly parser: Parser<T>;
  /** Raw default, parsed like a value from the environment. */
  readonly default?: string;
  readonly description: string;
  /** Processes that read the variable; `all` for every one. */
  readonly usedBy: readonly ServiceName[] | 'all';
  /** Processes that refuse to start without it (only for variables without a default). */
  readonly requiredBy?: readonly ServiceName[];
  /** Never echo the value in an error (it may hold a password). */
  readonly secret?: boolean;
}

// `const` keeps the literal `requiredBy` lists, so ConfigFor<S> knows what S may rely on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function v<const S extends VarSpec<any>>(spec: S): S {
  return spec;
}

const ALL = 'all' as const;
const WITH_DB = ['gateway', 'model-loader', 'telemetry-sender', 'cli'] as const;
const WITH_S3 = ['model-loader', 'cli'] as const;
// The gateway reads small artifact files (environment.json, class_names.txt) from S3 when its
// disk has no copy; it does not require a bucket (the task endpoints answer 503 without one).
const READS_S3 = [...WITH_S3, 'gateway'] as const;
const WITH_DISK = ['model-loader', 'inference-worker'] as const;
// `host:port` or `[ipv6]:port` (Sentinel and Cluster node lists).
const HOST_PORT =
  /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/;

/**
 * Every environment variable the platform reads. Adding one here is the only way to read a new
 * one; the README's configuration table is generated from this object (`pnpm config:docs`).
 */
export const SCHEMA = {
  LOG_LEVEL: v({
    parser: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    description: 'Minimum level written to the log.',
    usedBy: ALL,
  }),
  LOG_FORMAT: v({
    parser: oneOf(['json', 'pretty']),
    default: 'json',
    description: 'One JSON object per line, or a short human-readable line (local runs).',
    usedBy: ALL,
  }),
  BIND_HOST: v({
    parser: str(),
    default: '0.0.0.0',
    description: 'Address the HTTP server of each service listens on.',
    usedBy: ['gateway', 'model-loader', 'inference-worker', 'telemetry-sender'],
  }),
  GATEWAY_PORT: v({
    parser: int(1, 65535),
    default: '8080',
    description: 'HTTP port of the gateway (API, /healthz, /readyz, /metrics).',
    usedBy: ['gateway'],
  }),
  MODEL_LOADER_PORT: v({
    parser: int(1, 65535),
    default: '8081',
    description: 'HTTP port of the model-loader (/healthz, /readyz, /metrics).',
    usedBy: ['model-loader'],
  }),
  INFERENCE_WORKER_PORT: v({
    parser: int(1, 65535),
    default: '8082',
    description: 'HTTP port of the inference-worker (/healthz, /readyz, /metrics).',
    usedBy: ['inference-worker'],
  }),
  TELEMETRY_SENDER_PORT: v({
    parser: int(1, 65535),
    default: '8083',
    description: 'HTTP port of the telemetry-sender (/healthz, /readyz, /metrics).',
    usedBy: ['telemetry-sender'],
  }),
  SHUTDOWN_TIMEOUT: v({
    parser: int(1, 3600, 'seconds'),
    default: '25',
    description:
      'On SIGTERM, how long a service waits for active jobs and requests before it exits anyway.',
    usedBy: ['gateway', 'model-loader', 'inference-worker', 'telemetry-sender'],
  }),
  REDIS_URL: v({
    parser: url(['redis:', 'rediss:']),
    default: 'redis://127.0.0.1:6379',
    description:
      'Redis for queues and caches, standalone topology (`rediss://` for TLS). Set it, or REDIS_SENTINELS, or REDIS_CLUSTER_NODES: exactly one.',
    usedBy: ALL,
    secret: true,
  }),
  REDIS_SENTINELS: v({
    parser: list('host:port', HOST_PORT),
    description:
      'Sentinel topology: the sentinels asked for the current primary (`h1:26379,h2:26379`); needs REDIS_SENTINEL_NAME. Connections follow a failover by themselves.',
    usedBy: ALL,
  }),
  REDIS_SENTINEL_NAME: v({
    parser: str({ pattern: /^[A-Za-z0-9_.-]{1,128}$/, patternForm: '1–128 of A-Z a-z 0-9 _ . -' }),
    description: 'Sentinel topology: the master group name the sentinels monitor.',
    usedBy: ALL,
  }),
  REDIS_SENTINEL_PASSWORD: v({
    parser: str(),
    description: 'Sentinel topology: password of the sentinels themselves (when they require one).',
    usedBy: ALL,
    secret: true,
  }),
  REDIS_CLUSTER_NODES: v({
    parser: list('host:port', HOST_PORT),
    description:
      'Cluster topology: seed nodes of a Redis Cluster (`h1:6379,h2:6379`); the rest is discovered. Every key used together shares a hash tag.',
    usedBy: ALL,
  }),
  REDIS_PASSWORD: v({
    parser: str(),
    description:
      'Sentinel and Cluster topologies: password of the Redis servers (standalone: put it in REDIS_URL).',
    usedBy: ALL,
    secret: true,
  }),
  REDIS_KEY_PREFIX: v({
    parser: str({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, patternForm: '1–64 of A-Z a-z 0-9 _ . -' }),
    default: 'strata',
    description:
      'First segment of every Redis key and queue; lets several deployments share a Redis.',
    usedBy: ALL,
  }),
  DATABASE_URL: v({
    parser: url(['postgres:', 'postgresql:']),
    description: 'PostgreSQL connection string; `?schema=NAME` selects a schema other than public.',
    usedBy: WITH_DB,
    requiredBy: WITH_DB,
    secret: true,
  }),
  S3_ENDPOINT: v({
    parser: url(['http:', 'https:']),
    description: 'S3-compatible endpoint (MinIO, s3rver). Unset: AWS S3.',
    usedBy: READS_S3,
  }),
  S3_BUCKET: v({
    parser: str({ pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, patternForm: 'S3 bucket name' }),
    description: 'Bucket that holds model artifacts.',
    usedBy: READS_S3,
    requiredBy: WITH_S3,
  }),
  S3_PREFIX: v({
    parser: str({
      min: 0,
      pattern: /^([A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*)?$/,
      patternForm: 'key prefix without leading or trailing slash',
    }),
    default: '',
    description: 'Key prefix inside the bucket (`PREFIX/models/...`); empty for the bucket root.',
    usedBy: READS_S3,
  }),
  S3_REGION: v({
    parser: str(),
    default: 'us-east-1',
    description: 'Region sent to S3.',
    usedBy: READS_S3,
  }),
  S3_FORCE_PATH_STYLE: v({
    parser: bool(),
    default: 'false',
    description: 'Path-style addressing (`endpoint/bucket/key`); needed by MinIO and s3rver.',
    usedBy: READS_S3,
  }),
  S3_ACCESS_KEY_ID: v({
    parser: str(),
    description: 'Access key for S3. Unset: the AWS default credential chain.',
    usedBy: READS_S3,
    secret: true,
  }),
  S3_SECRET_ACCESS_KEY: v({
    parser: str(),
    description: 'Secret key for S3, with S3_ACCESS_KEY_ID.',
    usedBy: READS_S3,
    secret: true,
  }),
  MODEL_CACHE_DIR: v({
    parser: str(),
    default: '.strata/model-cache',
    description:
      'Root of the disk artifact cache (`models/`, `.staging/`, `workflows/`); relative paths resolve from the working directory.',
    usedBy: [...WITH_DISK, 'gateway'],
  }),
  CACHE_DOMAIN: v({
    parser: str({ pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, patternForm: '1–63 of a-z 0-9 -' }),
    default: 'local',
    description:
      'Name of the disk cache this process shares: loaders and workers on one volume use the same domain.',
    usedBy: WITH_DISK,
  }),
  MODEL_DISK_CACHE_MAX_BYTES: v({
    parser: bytes(),
    default: '10GiB',
    description: 'Cap of the disk artifact cache; least recently used unheld versions are evicted.',
    usedBy: ['model-loader'],
  }),
  DISK_CACHE_CLEANUP: v({
    parser: bool(),
    default: 'true',
    description: 'Remove a version from disk when no worker holds it any more; false keeps files.',
    usedBy: ['model-loader'],
  }),
  MAX_ACTIVE_MODELS: v({
    parser: int(1, 10000),
    default: '8',
    description:
      'Loaded ONNX Runtime sessions per worker before least recently used ones are evicted.',
    usedBy: ['inference-worker'],
  }),
  MEMORY_FREE_THRESHOLD: v({
    parser: decimal(0, 1),
    default: '0',
    description:
      'Evict loaded models while the free fraction of system memory is below this (0 = off).',
    usedBy: ['inference-worker'],
  }),
  MODEL_LOCK_ACQUIRE_TIMEOUT: v({
    parser: int(1, 3600, 'seconds'),
    default: '60',
    description: 'How long a worker waits for the lock that guards loading one model.',
    usedBy: ['inference-worker'],
  }),
  MODEL_IDLE_TTL: v({
    parser: int(0, 604800, 'seconds'),
    default: '1800',
    description: 'A loaded model unused for this long is unloaded (0 = never; pinned models stay).',
    usedBy: ['inference-worker'],
  }),
  MODEL_LOAD_TIMEOUT: v({
    parser: int(1, 86400, 'seconds'),
    default: '300',
    description:
      'How long a worker waits for the model-loader to have a version on disk (download included).',
    usedBy: ['inference-worker'],
  }),
  BATCH_MAX_SIZE: v({
    parser: int(1, 4096),
    default: '8',
    description:
      'Most items (summed along the batch axis; one per request usually) of one model computed in one ONNX Runtime run (1 = no batching); per model in environment.json.',
    usedBy: ['inference-worker'],
  }),
  BATCH_MAX_DELAY_MS: v({
    parser: int(0, 10000, 'milliseconds'),
    default: '0',
    description:
      'Longest time a request that finds its model idle waits for others to join its batch (0: it runs at once; requests that arrive while a run is in progress always gather into the next one); per model in environment.json.',
    usedBy: ['inference-worker'],
  }),
  ORT_INTRA_OP_THREADS: v({
    parser: int(0, 1024),
    default: '1',
    description:
      'ONNX Runtime intra-op threads per session (0 = ONNX Runtime picks, one per core). One thread per session gives the steadiest latency; scale with workers.',
    usedBy: ['inference-worker'],
  }),
  INFER_WORKER_CONCURRENCY: v({
    parser: int(1, 10000),
    default: '32',
    description:
      '`infer` jobs one worker process holds at once; raised to 2 × BATCH_MAX_SIZE if lower, so batches can gather.',
    usedBy: ['inference-worker'],
  }),
  WORKER_ID: v({
    parser: str({
      pattern: /^[A-Za-z0-9._@=+-]{1,200}$/,
      patternForm: '1–200 of A-Z a-z 0-9 . _ @ = + -',
    }),
    description:
      'Name of this worker in leases, placement and recent-inference records. Unset: `hostname-pid`.',
    usedBy: ['inference-worker'],
  }),
  INFER_JOB_LOCK_MS: v({
    parser: int(1000, 3600000, 'milliseconds'),
    default: '10000',
    description:
      "BullMQ lock of an active `infer` job (renewed at half of it): a worker that dies loses its jobs to another after at most this plus INFER_STALLED_INTERVAL_MS; keep the sum well under the gateway's INFER_TIMEOUT_MS.",
    usedBy: ['inference-worker'],
  }),
  INFER_STALLED_INTERVAL_MS: v({
    parser: int(1000, 3600000, 'milliseconds'),
    default: '5000',
    description: 'How often a worker looks for `infer` jobs whose worker died (stalled jobs).',
    usedBy: ['inference-worker'],
  }),
  INFER_MAX_STALLED_COUNT: v({
    parser: int(0, 100),
    default: '1',
    description:
      'Times an `infer` job is restarted after its worker died before it fails (guards against inputs that crash workers).',
    usedBy: ['inference-worker'],
  }),
  RECENT_INFERENCES_MAX: v({
    parser: int(1, 100000),
    default: '100',
    description: 'Recent-inference and recent-error records kept per model and worker in Redis.',
    usedBy: ['inference-worker'],
  }),
  ARTIFACT_DOWNLOAD_LOCK_TIMEOUT: v({
    parser: int(1, 86400, 'seconds'),
    default: '120',
    description: 'How long a loader waits for the per-version download lock.',
    usedBy: ['model-loader'],
  }),
  ARTIFACT_DOWNLOAD_LOCK_TTL: v({
    parser: int(2, 3600, 'seconds'),
    default: '30',
    description:
      'Lifetime of the per-version download lock in Redis; the holder renews it every third, so a crashed loader frees it within this.',
    usedBy: ['model-loader'],
  }),
  VERIFY_ON_START: v({
    parser: bool(),
    default: 'false',
    description:
      'At startup, hash every cached file against its manifest (sizes are always checked); corrupt versions are removed.',
    usedBy: ['model-loader'],
  }),
  PINNED_MODELS: v({
    parser: list('name/version pairs', /^[a-z0-9][a-z0-9._-]{0,127}\/[1-9][0-9]{0,9}$/),
    default: '',
    description:
      'Versions the model-loader downloads and inference-workers load before they report ready, and never evict, e.g. `resnet/3,yolo/7`.',
    usedBy: ['model-loader', 'inference-worker'],
  }),
  LOADER_CONCURRENCY: v({
    parser: int(1, 256),
    default: '8',
    description:
      'model-load jobs one loader runs at once (so a slow download does not hold up cache hits).',
    usedBy: ['model-loader'],
  }),
  AUTH_CACHE_TTL: v({
    parser: int(0, 86400, 'seconds'),
    default: '900',
    description:
      'How long a validated API key is cached in Redis (0 = not at all); also how long an expired in-process copy may answer while Redis and Postgres both fail.',
    usedBy: ['gateway'],
  }),
  MODEL_METADATA_CACHE_TTL: v({
    parser: int(0, 604800, 'seconds'),
    default: '3600',
    description:
      'How long model, version and alias metadata is cached in Redis (0 = not at all; registry changes invalidate it at once); also how long an expired in-process copy may answer while Redis and Postgres both fail.',
    usedBy: ['gateway', 'inference-worker', 'model-loader'],
  }),
  PREDICTION_CACHE_TTL: v({
    parser: int(0, 2592000, 'seconds'),
    default: '3600',
    description:
      'Default lifetime of a cached prediction; a version overrides it with `prediction_cache_ttl` in its `model_type.json` (0 = never cache).',
    usedBy: ['gateway'],
  }),
  DISABLE_INFERENCE_CACHE: v({
    parser: bool(),
    default: 'false',
    description: 'Turn the prediction cache off for every request.',
    usedBy: ['gateway'],
  }),
  PREDICTION_CACHE_MAX_ENTRY_BYTES: v({
    parser: bytes(),
    default: '4MiB',
    description:
      'Largest answer the prediction cache stores (encoded outputs); larger answers are computed every time.',
    usedBy: ['gateway'],
  }),
  WORKFLOWS_DEFINITION_CACHE_EXPIRY: v({
    parser: int(0, 604800, 'seconds'),
    default: '900',
    description: 'How long a workflow definition is cached in Redis and in process.',
    usedBy: ['gateway'],
  }),
  METRICS_INTERVAL: v({
    parser: int(1, 3600, 'seconds'),
    default: '60',
    description: 'Metrics window; recent-inference records live for twice this.',
    usedBy: ['gateway', 'inference-worker'],
  }),
  TELEMETRY_FLUSH_INTERVAL: v({
    parser: int(10, 300, 'seconds'),
    default: '10',
    description:
      'Usage aggregation window of the telemetry-sender (aligned to the epoch, by event start) and how often it writes what it holds to Postgres.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_FLUSH_MAX_EVENTS: v({
    parser: int(1, 100000),
    default: '1000',
    description:
      'The telemetry-sender also writes its aggregates as soon as it holds this many unwritten events (and always on shutdown).',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_JOB_LOCK_MS: v({
    parser: int(1000, 600000, 'milliseconds'),
    default: '30000',
    description:
      'BullMQ lock of the `usage` jobs a telemetry-sender holds until their aggregate is written (renewed while held): events of a killed sender are taken up again after about this.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_DEDUP_RETENTION: v({
    parser: int(3600, 31536000, 'seconds'),
    default: '604800',
    description:
      'How long the ids of counted `usage` jobs are kept to recognise a replayed job (must exceed any outage of the sender between writing and acknowledging).',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_BATCH_SIZE: v({
    parser: int(1, 10000),
    default: '100',
    description: 'Most usage aggregates posted to the sink in one request.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_SEND_INTERVAL_MS: v({
    parser: int(10, 3600000, 'milliseconds'),
    default: '1000',
    description: 'How often the sender loop looks for aggregates due for delivery when it is idle.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_RETRY_BASE_MS: v({
    parser: int(1, 3600000, 'milliseconds'),
    default: '1000',
    description:
      'First retry delay after a failed delivery; doubles per consecutive failure, with full jitter.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_RETRY_MAX_MS: v({
    parser: int(1, 86400000, 'milliseconds'),
    default: '300000',
    description:
      'Cap of the retry delay. Deliveries are retried forever at most this far apart: nothing is dropped.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_SINK_TIMEOUT_MS: v({
    parser: int(100, 600000, 'milliseconds'),
    default: '10000',
    description: 'How long one post to the sink may take before it counts as failed.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_OPT_OUT: v({
    parser: bool(),
    default: 'false',
    description: 'Emit no usage events at all.',
    usedBy: ['gateway', 'inference-worker'],
  }),
  TELEMETRY_EMIT_BUFFER_MAX: v({
    parser: int(1, 1000000),
    default: '10000',
    description:
      'Usage events a gateway or worker keeps in memory while Redis is unreachable; beyond it new events are dropped (and counted).',
    usedBy: ['gateway', 'inference-worker'],
  }),
  TELEMETRY_EMIT_LINGER_MS: v({
    parser: int(0, 10000),
    default: '100',
    description:
      'How long a gateway or worker gathers usage events into one queue job before adding it (one job per up to 500 events). Longer: fewer jobs for the telemetry-sender under load; events still in memory at a crash are lost.',
    usedBy: ['gateway', 'inference-worker'],
  }),
  TELEMETRY_SINK_URL: v({
    parser: url(['http:', 'https:']),
    description: 'Where usage aggregates are posted. Unset: they stay in Postgres, queryable.',
    usedBy: ['telemetry-sender'],
    secret: true,
  }),
  INFER_TIMEOUT_MS: v({
    parser: int(100, 3600000, 'milliseconds'),
    default: '30000',
    description:
      'How long the gateway waits for an `infer` job (queue, load, compute) before it answers 504; the job carries this as its deadline and a worker drops it after.',
    usedBy: ['gateway'],
  }),
  INFER_MAX_QUEUE_DEPTH: v({
    parser: int(0, 100000000),
    default: '1000',
    description:
      'Waiting `infer` jobs above which the gateway refuses new inferences with 503 and Retry-After (0 = no limit). Sampled at most every 100 ms.',
    usedBy: ['gateway'],
  }),
  RATE_LIMIT_DEFAULT: v({
    parser: int(0, 1000000),
    default: '0',
    description:
      'Requests per `RATE_LIMIT_WINDOW` an API key may make when the key has no `rate_limit` of its own (0 = unlimited); more get 429 with Retry-After and RateLimit headers.',
    usedBy: ['gateway'],
  }),
  RATE_LIMIT_WINDOW: v({
    parser: int(1, 86400, 'seconds'),
    default: '60',
    description:
      'Length of the rolling rate-limit window in seconds (sliding-window counter over Redis buckets; per gateway in memory while Redis is unreachable).',
    usedBy: ['gateway'],
  }),
  GATEWAY_MAX_BODY_BYTES: v({
    parser: bytes(),
    default: '64MiB',
    description:
      'Largest request body the gateway reads (JSON, binary tensors, uploads); larger bodies get 413. Also the cap on the input bytes of one inference.',
    usedBy: ['gateway'],
  }),
  INFER_BLOB_THRESHOLD_BYTES: v({
    parser: bytes(),
    default: '32KiB',
    description:
      'Input tensors larger than this travel to the worker as a binary Redis blob (written with the job) instead of base64 inside the job; base64 + JSON costs more than the extra Redis read above a few tens of KiB.',
    usedBy: ['gateway'],
  }),
  IMAGE_URL_ALLOWED_HOSTS: v({
    parser: list(
      'host names',
      /^(\*\.)?[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/,
    ),
    default: '',
    description:
      'Hosts the task endpoints may fetch `{type:"url"}` images from (`example.com`, `*.example.com`, `host:port`); empty = no URL images. Private and loopback addresses are refused unless listed literally.',
    usedBy: ['gateway'],
  }),
  IMAGE_URL_MAX_BYTES: v({
    parser: bytes(),
    default: '20MiB',
    description: 'Largest image the gateway downloads for a `{type:"url"}` image.',
    usedBy: ['gateway'],
  }),
  IMAGE_URL_TIMEOUT_MS: v({
    parser: int(100, 600000, 'milliseconds'),
    default: '10000',
    description: 'Time limit for downloading one `{type:"url"}` image (connect, headers and body).',
    usedBy: ['gateway'],
  }),
  AUTH_LOCAL_CACHE_TTL_MS: v({
    parser: int(0, 3600000, 'milliseconds'),
    default: '10000',
    description:
      'How long a gateway keeps an API key check in process memory before asking Redis (0 = every time); revocations are broadcast and drop it at once (within this when Redis was unreachable for the revoker).',
    usedBy: ['gateway'],
  }),
  MODEL_METADATA_LOCAL_TTL_MS: v({
    parser: int(0, 3600000, 'milliseconds'),
    default: '10000',
    description:
      'How long a gateway keeps resolved model metadata (aliases, inputs, outputs) and artifact files in process memory; registry events drop it sooner.',
    usedBy: ['gateway'],
  }),
} as const;

export type Schema = typeof SCHEMA;
export type VariableName = keyof Schema;

type ValueOf<S> = S extends { parser: Parser<infer T> } ? T : never;
type HasDefault<S> = S extends { default: string } ? true : false;

/** The typed configuration: variables with a default are always set. */
export type Config = {
  readonly [K in VariableName]: HasDefault<Schema[K]> extends true
    ? ValueOf<Schema[K]>
    : ValueOf<Schema[K]> | undefined;
};

type RequiredKeys<S extends ServiceName> = {
  [K in VariableName]: Schema[K] extends { requiredBy: readonly (infer R)[] }
    ? S extends R
      ? K
      : never
    : never;
}[VariableName];

/** What service S sees: the variables it requires are known to be set. */
export type ConfigFor<S extends ServiceName> = Omit<Config, RequiredKeys<S>> & {
  readonly [K in RequiredKeys<S>]: NonNullable<Config[K]>;
};
