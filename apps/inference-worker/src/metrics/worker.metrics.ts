import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EvictionReason } from '../models/lru-policy';

/** `outcome` label of the jobs counter: `ok`, or the error code in lower case. */
export type JobOutcome =
  'ok' | 'invalid_input' | 'not_found' | 'unavailable' | 'timeout' | 'internal';

const SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
const LOAD_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const BATCH_SIZES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256];

/**
 * The inference-worker's Prometheus metrics, on the process registry (every series also carries
 * `service="inference-worker"`). Names follow Prometheus conventions: base units (seconds),
 * `_total` for counters.
 */
export class WorkerMetrics {
  /** Job timestamp (when the gateway added it) → processing start. */
  readonly queueWait: Histogram<'model'>;
  /** Duration of one ONNX Runtime run (one batch). */
  readonly compute: Histogram<'model'>;
  /** Items per ONNX Runtime run (1 = unbatched). */
  readonly batchSize: Histogram<'model'>;
  readonly loadedModels: Gauge;
  readonly loads: Counter<'model' | 'outcome'>;
  readonly loadDuration: Histogram<'model' | 'disk_cache'>;
  /** Where a load's files came from: the loader's ready list in Redis, or the loader itself. */
  readonly filesFrom: Counter<'via'>;
  readonly evictions: Counter<'model' | 'reason'>;
  readonly jobs: Counter<'model' | 'job' | 'outcome'>;
  /** Batches that could not be split (or failed) and ran request by request. */
  readonly batchFallbacks: Counter<'model'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.queueWait = new Histogram({
      name: 'strata_infer_queue_wait_seconds',
      help: 'Time an infer job waited in the queue, from being added to the start of processing.',
      labelNames: ['model'],
      buckets: SECONDS,
      registers,
    });
    this.compute = new Histogram({
      name: 'strata_infer_compute_seconds',
      help: 'Duration of one ONNX Runtime run (a whole batch).',
      labelNames: ['model'],
      buckets: SECONDS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'strata_infer_batch_size',
      help: 'Items computed together in one ONNX Runtime run (1 = unbatched).',
      labelNames: ['model'],
      buckets: BATCH_SIZES,
      registers,
    });
    this.loadedModels = new Gauge({
      name: 'strata_loaded_models',
      help: 'Model versions with an open ONNX Runtime session in this worker.',
      registers,
    });
    this.loads = new Counter({
      name: 'strata_model_loads_total',
      help: 'Model version loads into this worker, by outcome (ok, error).',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.loadDuration = new Histogram({
      name: 'strata_model_load_duration_seconds',
      help: 'Time to load a model version: files from the model-loader, then the session. disk_cache: whether the files were already on disk.',
      labelNames: ['model', 'disk_cache'],
      buckets: LOAD_SECONDS,
      registers,
    });
    this.filesFrom = new Counter({
      name: 'strata_model_files_answers_total',
      help: 'Answers to "where are the files of this version" for loads: via="index" (the loader\'s ready list in Redis, no queue hop; these hits are not in the loader\'s strata_artifact_cache_hits_total) or via="loader" (through the model-load queue).',
      labelNames: ['via'],
      registers,
    });
    this.evictions = new Counter({
      name: 'strata_model_evictions_total',
      help: 'Model versions unloaded from this worker, by reason (lru, idle, memory, manual).',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.jobs = new Counter({
      name: 'strata_infer_jobs_total',
      help: 'infer jobs processed, by job name and outcome (ok or the error code).',
      labelNames: ['model', 'job', 'outcome'],
      registers,
    });
    this.batchFallbacks = new Counter({
      name: 'strata_infer_batch_fallbacks_total',
      help: 'Batches that could not be split back (or whose run failed) and ran request by request.',
      labelNames: ['model'],
      registers,
    });
  }

  evicted(model: string, reason: EvictionReason): void {
    this.evictions.inc({ model, reason });
  }
}
