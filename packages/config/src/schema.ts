import { bool, bytes, decimal, int, oneOf, str, url, type Parser } from './parsers';
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
const WITH_DISK = ['model-loader', 'inference-worker'] as const;

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
    description: 'Redis for queues and caches (`rediss://` for TLS).',
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
    usedBy: WITH_S3,
  }),
  S3_BUCKET: v({
    parser: str({ pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, patternForm: 'S3 bucket name' }),
    description: 'Bucket that holds model artifacts.',
    usedBy: WITH_S3,
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
    usedBy: WITH_S3,
  }),
  S3_REGION: v({
    parser: str(),
    default: 'us-east-1',
    description: 'Region sent to S3.',
    usedBy: WITH_S3,
  }),
  S3_FORCE_PATH_STYLE: v({
    parser: bool(),
    default: 'false',
    description: 'Path-style addressing (`endpoint/bucket/key`); needed by MinIO and s3rver.',
    usedBy: WITH_S3,
  }),
  S3_ACCESS_KEY_ID: v({
    parser: str(),
    description: 'Access key for S3. Unset: the AWS default credential chain.',
    usedBy: WITH_S3,
    secret: true,
  }),
  S3_SECRET_ACCESS_KEY: v({
    parser: str(),
    description: 'Secret key for S3, with S3_ACCESS_KEY_ID.',
    usedBy: WITH_S3,
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
  ARTIFACT_DOWNLOAD_LOCK_TIMEOUT: v({
    parser: int(1, 86400, 'seconds'),
    default: '120',
    description: 'How long a loader waits for the per-version download lock.',
    usedBy: ['model-loader'],
  }),
  AUTH_CACHE_TTL: v({
    parser: int(0, 86400, 'seconds'),
    default: '900',
    description: 'How long a validated API key is cached in Redis.',
    usedBy: ['gateway'],
  }),
  MODEL_METADATA_CACHE_TTL: v({
    parser: int(0, 604800, 'seconds'),
    default: '3600',
    description: 'How long model, version and alias metadata is cached in Redis.',
    usedBy: ['gateway', 'inference-worker', 'model-loader'],
  }),
  PREDICTION_CACHE_TTL: v({
    parser: int(0, 2592000, 'seconds'),
    default: '3600',
    description: 'Default lifetime of a cached prediction (per model overridable).',
    usedBy: ['gateway'],
  }),
  DISABLE_INFERENCE_CACHE: v({
    parser: bool(),
    default: 'false',
    description: 'Turn the prediction cache off for every request.',
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
    description: 'Usage aggregation window of the telemetry-sender.',
    usedBy: ['telemetry-sender'],
  }),
  TELEMETRY_OPT_OUT: v({
    parser: bool(),
    default: 'false',
    description: 'Emit no usage events at all.',
    usedBy: ['gateway', 'inference-worker'],
  }),
  TELEMETRY_SINK_URL: v({
    parser: url(['http:', 'https:']),
    description: 'Where usage aggregates are posted. Unset: they stay in Postgres, queryable.',
    usedBy: ['telemetry-sender'],
    secret: true,
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
