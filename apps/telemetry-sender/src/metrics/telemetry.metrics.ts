import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryOutcome } from '../delivery/sink.client';

export const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = [
  'success',
  'http_error',
  'timeout',
  'network_error',
];

/** Reads the outbox gauges at scrape time; may throw (the last values are kept then). */
export type OutboxStatsSource = () => Promise<{ pending: number; oldestPendingAgeSeconds: number }>;

const STATS_TIMEOUT_MS = 1500;
const STATS_TTL_MS = 1000;

/** Every series of the telemetry-sender (besides the service-kit defaults). */
export class TelemetryMetrics {
  readonly eventsReceived: Counter;
  readonly eventsReplayed: Counter;
  readonly eventsInvalid: Counter;
  readonly eventsHeld: Gauge;
  readonly aggregatesWritten: Counter;
  readonly flushes: Counter<'outcome'>;
  readonly deliveries: Counter<'outcome'>;
  readonly deliveryDuration: Histogram<'outcome'>;
  readonly deliveredRows: Counter;
  readonly pending: Gauge;
  readonly oldestAge: Gauge;
  private statsSource?: OutboxStatsSource;
  private statsAt = 0;
  private statsRead?: Promise<void>;
  private last = { pending: 0, oldestPendingAgeSeconds: 0 };

  constructor(registry: Registry) {
    const registers = [registry];
    this.eventsReceived = new Counter({
      name: 'strata_usage_events_received_total',
      help: 'Usage events taken from the usage queue, in readable jobs (replays included).',
      registers,
    });
    this.eventsReplayed = new Counter({
      name: 'strata_usage_events_replayed_total',
      help: 'Usage events taken again after a crash and ignored: their job was already counted.',
      registers,
    });
    this.eventsInvalid = new Counter({
      name: 'strata_usage_events_invalid_total',
      help: 'Unreadable usage jobs (moved to the failed set) plus unreadable events dropped from readable batches.',
      registers,
    });
    this.eventsHeld = new Gauge({
      name: 'strata_usage_events_held',
      help: 'Usage events taken from the queue and not yet written to Postgres.',
      registers,
    });
    this.aggregatesWritten = new Counter({
      name: 'strata_usage_aggregates_written_total',
      help: 'Usage aggregate rows written to the outbox.',
      registers,
    });
    this.flushes = new Counter({
      name: 'strata_usage_flushes_total',
      help: 'Flushes of held usage events to Postgres, by outcome (ok, error).',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'strata_usage_deliveries_total',
      help: 'Posts of aggregate batches to the sink, by outcome (success, http_error, timeout, network_error).',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveryDuration = new Histogram({
      name: 'strata_usage_delivery_duration_seconds',
      help: 'Time of one post to the sink, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.deliveredRows = new Counter({
      name: 'strata_usage_delivered_rows_total',
      help: 'Aggregate rows marked sent after the sink acknowledged them.',
      registers,
    });
    for (const outcome of ['ok', 'error']) this.flushes.inc({ outcome }, 0);
    for (const outcome of DELIVERY_OUTCOMES) this.deliveries.inc({ outcome }, 0);

    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.pending = new Gauge({
      name: 'strata_usage_outbox_pending_rows',
      help: 'Aggregate rows in the outbox not yet acknowledged by the sink.',
      registers,
      async collect() {
        await self.readStats();
        this.set(self.last.pending);
      },
    });
    this.oldestAge = new Gauge({
      name: 'strata_usage_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest aggregate row not yet acknowledged by the sink (0 when none).',
      registers,
      async collect() {
        await self.readStats();
        this.set(self.last.oldestPendingAgeSeconds);
      },
    });
  }

  /** Where the outbox gauges come from (Postgres); unset, they stay 0. */
  setOutboxStatsSource(source: OutboxStatsSource): void {
    this.statsSource = source;
  }

  // Both gauges of one scrape share one query; a slow or failing database keeps the last values
  // and never holds the scrape longer than STATS_TIMEOUT_MS.
  private readStats(): Promise<void> {
    const source = this.statsSource;
    if (!source) return Promise.resolve();
    if (this.statsRead && Date.now() - this.statsAt < STATS_TTL_MS) return this.statsRead;
    this.statsAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    this.statsRead = Promise.race([
      source().then((s) => {
        this.last = s;
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STATS_TIMEOUT_MS);
        timer.unref();
      }),
    ])
      .catch(() => undefined)
      .finally(() => clearTimeout(timer));
    return this.statsRead;
  }
}
