import { Counter, Histogram, type Registry } from 'prom-client';

/** Which cache: one metric family for all of them, told apart by the `cache` label. */
export type CacheName = 'auth' | 'metadata' | 'prediction' | (string & {});

/** Where a cache looked: the process memory, or Redis. */
export type CacheLevel = 'process' | 'redis';

/**
 * `hit`, `miss`; `error`: the level could not answer (Redis down or slow), the lookup went on as
 * after a miss; `stale`: an expired process copy was served because the source failed.
 */
export type CacheResult = 'hit' | 'miss' | 'error' | 'stale';

/** What finally answered a lookup: a cache level, or the source behind the caches. */
export type CacheAnswer = CacheLevel | 'source';

/**
 * The cache series every cache of the gateway shares (each also gets `service="gateway"` from
 * the registry). One lookup counts once per level it asked, and once in the histogram under the
 * level that answered it, so `source` latency is the cost of a full miss.
 */
export class CacheMetrics {
  readonly requests: Counter<'cache' | 'level' | 'result'>;
  readonly lookup: Histogram<'cache' | 'answer'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'strata_cache_requests_total',
      help: 'Cache lookups by cache (auth, metadata, prediction), level (process, redis) and result (hit, miss, error, stale).',
      labelNames: ['cache', 'level', 'result'],
      registers: [registry],
    });
    this.lookup = new Histogram({
      name: 'strata_cache_lookup_seconds',
      help: 'Time of one cache lookup until it had its value, by cache and by what answered (process, redis, source).',
      labelNames: ['cache', 'answer'],
      buckets: [
        0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
        0.25, 0.5, 1, 2.5,
      ],
      registers: [registry],
    });
  }

  count(cache: CacheName, level: CacheLevel, result: CacheResult): void {
    this.requests.inc({ cache, level, result });
  }

  /** `startedAt` from `performance.now()`. */
  observe(cache: CacheName, answer: CacheAnswer, startedAt: number): void {
    this.lookup.observe({ cache, answer }, (performance.now() - startedAt) / 1000);
  }
}
