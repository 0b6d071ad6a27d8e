import type { ServiceConfig } from '@strata/service-kit';

/** Injection token: the TelemetrySettings of the process. */
export const TELEMETRY_SETTINGS = Symbol('TELEMETRY_SETTINGS');

export interface TelemetrySettings {
  readonly keyPrefix: string;
  /** Aggregation window (TELEMETRY_FLUSH_INTERVAL) in ms. */
  readonly windowMs: number;
  /** Held events that trigger a flush before the window ends. */
  readonly flushMaxEvents: number;
  /** A flush waits this long past a window's end for its stragglers. */
  readonly flushGraceMs: number;
  /** BullMQ lock of a held `usage` job; renewed every third of it while held. */
  readonly jobLockMs: number;
  readonly dedupRetentionSeconds: number;
  readonly batchSize: number;
  readonly sendIntervalMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly sinkTimeoutMs: number;
  /** Unset: nothing is posted, aggregates stay pending in Postgres. */
  readonly sinkUrl?: string;
  /**
   * How long a claimed row is not claimable by another sender: the post (bounded by the sink
   * timeout) and marking it must fit, with room to spare.
   */
  readonly claimLeaseMs: number;
}

export function settingsFromConfig(config: ServiceConfig): TelemetrySettings {
  return {
    keyPrefix: config.REDIS_KEY_PREFIX,
    windowMs: config.TELEMETRY_FLUSH_INTERVAL * 1000,
    flushMaxEvents: config.TELEMETRY_FLUSH_MAX_EVENTS,
    flushGraceMs: 1000,
    jobLockMs: config.TELEMETRY_JOB_LOCK_MS,
    dedupRetentionSeconds: config.TELEMETRY_DEDUP_RETENTION,
    batchSize: config.TELEMETRY_BATCH_SIZE,
    sendIntervalMs: config.TELEMETRY_SEND_INTERVAL_MS,
    retryBaseMs: config.TELEMETRY_RETRY_BASE_MS,
    retryMaxMs: Math.max(config.TELEMETRY_RETRY_BASE_MS, config.TELEMETRY_RETRY_MAX_MS),
    sinkTimeoutMs: config.TELEMETRY_SINK_TIMEOUT_MS,
    sinkUrl: config.TELEMETRY_SINK_URL,
    claimLeaseMs: 2 * config.TELEMETRY_SINK_TIMEOUT_MS + 5000,
  };
}
