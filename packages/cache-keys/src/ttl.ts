/**
 * TTL defaults in seconds per key category. Where a variable in @strata/config can override
 * one, the variable's default equals the value here (a unit test checks it).
 */
export const TTL_DEFAULTS = {
  auth: 900,
  meta: 3600,
  alias: 3600,
  pred: 3600,
  wf: 900,
  /** recent-inference sorted sets live for 2 × METRICS_INTERVAL (default 60 s). */
  inference: 120,
  /** a worker refreshes its lease on a loaded version well within this. */
  lease: 60,
  /** large tensor inputs parked for one job. */
  blob: 300,
  /** coalescing: how long one gateway may compute before another takes over. */
  predLock: 30,
} as const;
