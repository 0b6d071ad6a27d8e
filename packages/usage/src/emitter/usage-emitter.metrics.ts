import { Counter, Gauge, type Registry } from 'prom-client';

export type UsageDropReason = 'buffer_full' | 'invalid' | 'shutdown';

/** What the emitter reports on the /metrics of the gateway and the inference-worker. */
export class UsageEmitterMetrics {
  readonly emitted: Counter;
  readonly dropped: Counter<'reason'>;
  readonly failures: Counter;
  readonly buffered: Gauge;

  constructor(registry: Registry) {
    this.emitted = new Counter({
      name: 'strata_usage_events_emitted_total',
      help: 'Usage events added to the usage queue.',
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'strata_usage_events_dropped_total',
      help: 'Usage events given up: buffer_full (Redis unreachable too long), invalid (bad event), shutdown (unsent at exit).',
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const reason of ['buffer_full', 'invalid', 'shutdown'] satisfies UsageDropReason[])
      this.dropped.inc({ reason }, 0);
    this.failures = new Counter({
      name: 'strata_usage_emit_failures_total',
      help: 'Failed attempts to add a batch of usage events to the usage queue (retried).',
      registers: [registry],
    });
    this.buffered = new Gauge({
      name: 'strata_usage_emit_buffered_events',
      help: 'Usage events waiting in process memory to be added to the usage queue.',
      registers: [registry],
    });
  }
}
