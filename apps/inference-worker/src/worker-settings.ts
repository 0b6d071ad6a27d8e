import { hostname } from 'node:os';
import type { Config } from '@strata/config';
import type { ModelVersionRef } from '@strata/cache-keys';
import { TTL_DEFAULTS } from '@strata/cache-keys';

/** Injection token: the {@link WorkerSettings} of the process. */
export const WORKER_SETTINGS = Symbol('WORKER_SETTINGS');

/** What the inference-worker needs from its configuration, in the units the code uses. */
export interface WorkerSettings {
  readonly workerId: string;
  readonly cacheDomain: string;
  readonly maxActiveModels: number;
  /** How many least recently used models go when the pool is full. */
  readonly evictBatch: number;
  readonly pinned: readonly ModelVersionRef[];
  /** 0 = never unload idle models. */
  readonly idleTtlMs: number;
  /** 0 = memory-pressure eviction off. */
  readonly memoryFreeThreshold: number;
  readonly memoryCheckIntervalMs: number;
  readonly modelLoadTimeoutMs: number;
  readonly batchMaxSize: number;
  readonly batchMaxDelayMs: number;
  readonly intraOpThreads: number;
  readonly concurrency: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  /** Lease and placement lifetime; refreshed every third of it. */
  readonly leaseTtlMs: number;
  readonly recentLimit: number;
  /** Lifetime of recent-inference sets: 2 × METRICS_INTERVAL. */
  readonly recentTtlSeconds: number;
}

/** `resnet/3` → `{ model: 'resnet', version: 3 }` (the config parser checked the form). */
export function parsePinned(entries: readonly string[]): ModelVersionRef[] {
  const seen = new Set<string>();
  const out: ModelVersionRef[] = [];
  for (const entry of entries) {
    const slash = entry.lastIndexOf('/');
    const ref = { model: entry.slice(0, slash), version: Number(entry.slice(slash + 1)) };
    const key = `${ref.model}/${ref.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(ref);
  }
  return out;
}

export function settingsFromConfig(
  config: Config,
  host: { hostname: string; pid: number } = { hostname: hostname(), pid: process.pid },
): WorkerSettings {
  // Concurrency is what lets jobs gather into a batch: with no more slots than one batch holds, a
  // batch could never fill while the previous one runs.
  const concurrency = Math.max(config.INFER_WORKER_CONCURRENCY, 2 * config.BATCH_MAX_SIZE);
  return {
    workerId: config.WORKER_ID ?? defaultWorkerId(host.hostname, host.pid),
    cacheDomain: config.CACHE_DOMAIN,
    maxActiveModels: config.MAX_ACTIVE_MODELS,
    evictBatch: 3,
    pinned: parsePinned(config.PINNED_MODELS),
    idleTtlMs: config.MODEL_IDLE_TTL * 1000,
    memoryFreeThreshold: config.MEMORY_FREE_THRESHOLD,
    memoryCheckIntervalMs: 5000,
    modelLoadTimeoutMs: config.MODEL_LOAD_TIMEOUT * 1000,
    batchMaxSize: config.BATCH_MAX_SIZE,
    batchMaxDelayMs: config.BATCH_MAX_DELAY_MS,
    intraOpThreads: config.ORT_INTRA_OP_THREADS,
    concurrency,
    lockDurationMs: config.INFER_JOB_LOCK_MS,
    stalledIntervalMs: config.INFER_STALLED_INTERVAL_MS,
    maxStalledCount: config.INFER_MAX_STALLED_COUNT,
    leaseTtlMs: TTL_DEFAULTS.lease * 1000,
    recentLimit: config.RECENT_INFERENCES_MAX,
    recentTtlSeconds: 2 * config.METRICS_INTERVAL,
  };
}

/** `hostname-pid`, reduced to the characters a Redis key segment allows. */
export function defaultWorkerId(host: string, pid: number): string {
  const safe = host.replace(/[^A-Za-z0-9._@=+-]/g, '_').slice(0, 180) || 'worker';
  return `${safe}-${pid}`;
}
