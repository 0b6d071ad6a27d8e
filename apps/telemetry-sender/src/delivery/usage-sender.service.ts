import type { Logger } from 'pino';
import type { TelemetryMetrics } from '../metrics/telemetry.metrics';
import type { TelemetrySettings } from '../telemetry-settings';
import type { UsageOutboxRepository } from '../usage/usage-outbox.repository';
import { fullJitterDelay } from './backoff';
import type { SinkClient } from './sink.client';

export interface UsageSenderDeps {
  readonly outbox: UsageOutboxRepository;
  /** Absent when TELEMETRY_SINK_URL is unset: the loop does not run. */
  readonly sink?: SinkClient;
  readonly settings: TelemetrySettings;
  readonly metrics: TelemetryMetrics;
  readonly logger: Logger;
  readonly random?: () => number;
}

/** Attempts to mark a delivered batch sent before leaving it to the claim lease. */
const MARK_ATTEMPTS = 3;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The sender loop: claim due pending rows (a batch of at most TELEMETRY_BATCH_SIZE), post them,
 * mark them sent only after a 2xx. A failed post schedules the rows again after an exponential,
 * fully jittered delay (capped at TELEMETRY_RETRY_MAX_MS) and the loop itself waits that long
 * before posting anything else, so a sink that is down sees one request per delay, not one per
 * batch. Rows are never dropped: a sink down for hours finds them all when it returns.
 */
export class UsageSender {
  private loop?: Promise<void>;
  private stopping = false;
  private failures = 0;
  private wake?: () => void;
  private lastWarning?: string;

  constructor(private readonly deps: UsageSenderDeps) {}

  get running(): boolean {
    return this.loop !== undefined;
  }

  start(): void {
    if (this.loop) return;
    if (!this.deps.sink) {
      this.deps.logger.info(
        'TELEMETRY_SINK_URL is unset: usage aggregates stay in Postgres (pending), nothing is posted',
      );
      return;
    }
    this.loop = this.run(this.deps.sink);
  }

  /** Lets a post in flight finish (bounded by the sink timeout) and record its outcome. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async run(sink: SinkClient): Promise<void> {
    const { outbox, settings, metrics, logger } = this.deps;
    while (!this.stopping) {
      let rows;
      try {
        rows = await outbox.claimDue(settings.batchSize, settings.claimLeaseMs);
      } catch (err) {
        this.warnOnce({ err }, `usage outbox: cannot claim rows: ${messageOf(err)}`);
        await this.sleep(Math.max(settings.sendIntervalMs, 1000));
        continue;
      }
      if (rows.length === 0) {
        await this.sleep(settings.sendIntervalMs);
        continue;
      }
      const ids = rows.map((r) => r.id);
      const result = await sink.post(rows);
      metrics.deliveries.inc({ outcome: result.outcome });
      metrics.deliveryDuration.observe({ outcome: result.outcome }, result.durationMs / 1000);

      if (result.outcome === 'success') {
        if (this.failures > 0)
          logger.info({ failures: this.failures }, 'usage sink reachable again');
        this.failures = 0;
        this.lastWarning = undefined;
        await this.markSent(ids);
        metrics.deliveredRows.inc(rows.length);
        if (rows.length < settings.batchSize) await this.sleep(settings.sendIntervalMs);
        continue;
      }

      this.failures += 1;
      const delay = fullJitterDelay(
        this.failures,
        settings.retryBaseMs,
        settings.retryMaxMs,
        this.deps.random,
      );
      this.warnOnce(
        {
          outcome: result.outcome,
          status: result.status,
          rows: rows.length,
          failures: this.failures,
        },
        `usage delivery failed (${result.outcome}), retrying with backoff: ${result.error ?? ''}`,
      );
      try {
        await outbox.markFailed(ids, delay, result.error ?? result.outcome);
      } catch (err) {
        // The claim lease still holds the rows back; they are retried when it ends.
        this.warnOnce({ err }, `usage outbox: cannot record a failed delivery: ${messageOf(err)}`);
      }
      await this.sleep(delay);
    }
  }

  private async markSent(ids: string[]): Promise<void> {
    for (let attempt = 1; attempt <= MARK_ATTEMPTS; attempt++) {
      try {
        await this.deps.outbox.markSent(ids);
        return;
      } catch (err) {
        if (attempt === MARK_ATTEMPTS) {
          // Delivered but not marked: after the claim lease the rows are posted again with the
          // same idempotency keys, which the sink drops.
          this.warnOnce({ err }, `usage outbox: delivered rows not marked sent: ${messageOf(err)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt).unref());
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private warnOnce(obj: object, message: string): void {
    if (message === this.lastWarning) return;
    this.lastWarning = message;
    this.deps.logger.warn(obj, message);
  }
}
