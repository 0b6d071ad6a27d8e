import { Counter, Histogram, type Registry } from 'prom-client';
import type { CacheMetrics } from '../metrics/cache.metrics';
import type { CacheStatus } from './cache-policy';

/**
 * Series of the prediction cache (hit ratio per model, lookup latency, coalescing, failures).
 * Lookups and errors also go to the family every gateway cache shares
 * (`strata_cache_requests_total{cache="prediction",level="redis"}`, `strata_cache_lookup_seconds`),
 * so one dashboard panel compares all caches.
 */
export class PredictionCacheMetrics {
  private readonly requests: Counter<'model' | 'result'>;
  private readonly lookupSeconds: Histogram<'result'>;
  private readonly coalescedTotal: Counter<'model' | 'scope'>;
  private readonly rowsTotal: Counter<'model' | 'result'>;
  private readonly storedBytes: Counter<'model'>;
  private readonly skippedTotal: Counter<'model' | 'reason'>;
  private readonly errors: Counter<'op'>;

  constructor(
    registry: Registry,
    private readonly shared?: CacheMetrics,
  ) {
    this.requests = new Counter({
      name: 'strata_prediction_cache_requests_total',
      help: 'Inference requests by what the prediction cache did: hit, miss (computed), bypass (use_cache=false, no-cache, TTL 0, disabled, Redis unreadable).',
      labelNames: ['model', 'result'],
      registers: [registry],
    });
    this.lookupSeconds = new Histogram({
      name: 'strata_prediction_cache_lookup_seconds',
      help: 'Time to look a prediction up in Redis (GET, or one MGET for an embedding batch).',
      labelNames: ['result'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
      registers: [registry],
    });
    this.coalescedTotal = new Counter({
      name: 'strata_prediction_cache_coalesced_total',
      help: 'Misses that waited for an identical computation instead of running their own: in this gateway (local) or another (remote).',
      labelNames: ['model', 'scope'],
      registers: [registry],
    });
    this.rowsTotal = new Counter({
      name: 'strata_prediction_cache_rows_total',
      help: 'Rows of embedding batches answered from the cache (hit) or computed (miss).',
      labelNames: ['model', 'result'],
      registers: [registry],
    });
    this.storedBytes = new Counter({
      name: 'strata_prediction_cache_stored_bytes_total',
      help: 'Bytes of prediction entries written to Redis.',
      labelNames: ['model'],
      registers: [registry],
    });
    this.skippedTotal = new Counter({
      name: 'strata_prediction_cache_skipped_total',
      help: 'Answers not stored: too_large (over PREDICTION_CACHE_MAX_ENTRY_BYTES), not_per_row (embedding outputs without a batch dimension).',
      labelNames: ['model', 'reason'],
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'strata_prediction_cache_errors_total',
      help: 'Redis operations of the prediction cache that failed (the request went on without the cache), and unreadable entries (decode).',
      labelNames: ['op'],
      registers: [registry],
    });
  }

  request(model: string, result: CacheStatus): void {
    this.requests.inc({ model, result });
  }

  lookup(result: 'hit' | 'miss', seconds: number): void {
    this.lookupSeconds.observe({ result }, seconds);
    this.shared?.requests.inc({ cache: 'prediction', level: 'redis', result });
    this.shared?.lookup.observe({ cache: 'prediction', answer: 'redis' }, seconds);
  }

  coalesced(model: string, scope: 'local' | 'remote'): void {
    this.coalescedTotal.inc({ model, scope });
  }

  rows(model: string, hits: number, misses: number): void {
    if (hits > 0) this.rowsTotal.inc({ model, result: 'hit' }, hits);
    if (misses > 0) this.rowsTotal.inc({ model, result: 'miss' }, misses);
  }

  stored(model: string, bytes: number): void {
    this.storedBytes.inc({ model }, bytes);
  }

  skipped(model: string, reason: 'too_large' | 'not_per_row'): void {
    this.skippedTotal.inc({ model, reason });
  }

  error(op: string): void {
    this.errors.inc({ op });
    if (op === 'get' || op === 'generation') {
      this.shared?.requests.inc({ cache: 'prediction', level: 'redis', result: 'error' });
    }
  }
}
