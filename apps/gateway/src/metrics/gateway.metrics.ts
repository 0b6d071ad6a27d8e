import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CacheMetrics } from './cache.metrics';

/** The gateway's own series (every one also gets `service="gateway"` from the registry). */
export class GatewayMetrics {
  readonly requests: Counter<'route' | 'model' | 'status'>;
  readonly duration: Histogram<'route' | 'model' | 'status'>;
  readonly queueWait: Histogram<'model'>;
  readonly inferRoundTrip: Histogram<'model' | 'outcome'>;
  readonly queueDepth: Gauge;
  readonly rejected: Counter<'reason'>;
  readonly authFailures: Counter<'reason'>;
  /** Auth and metadata caches (and every other cache): see cache.metrics.ts. */
  readonly caches: CacheMetrics;

  constructor(registry: Registry) {
    this.caches = new CacheMetrics(registry);
    this.requests = new Counter({
      name: 'strata_gateway_requests_total',
      help: 'HTTP requests answered, by route template, model (once resolved) and status code.',
      labelNames: ['route', 'model', 'status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'strata_gateway_request_duration_seconds',
      help: 'Time from receiving a request to sending its answer.',
      labelNames: ['route', 'model', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.queueWait = new Histogram({
      name: 'strata_gateway_queue_wait_seconds',
      help: 'Queue wait as the gateway sees it: from adding an infer job to its answer, minus the compute time the worker reports.',
      labelNames: ['model'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.inferRoundTrip = new Histogram({
      name: 'strata_gateway_infer_roundtrip_seconds',
      help: 'From adding an infer job to its result (or failure, or timeout).',
      labelNames: ['model', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.queueDepth = new Gauge({
      name: 'strata_gateway_infer_queue_depth',
      help: 'Waiting infer jobs at the last sample (sampled at most every 100 ms while requests arrive).',
      registers: [registry],
    });
    this.rejected = new Counter({
      name: 'strata_gateway_infer_rejected_total',
      help: 'Requests refused: rate_limit (429, the API key is over its limit), queue_full (503, before queueing), timeout (504 after queueing).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.authFailures = new Counter({
      name: 'strata_gateway_auth_failures_total',
      help: 'Requests refused by authentication or authorisation, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    });
  }
}
