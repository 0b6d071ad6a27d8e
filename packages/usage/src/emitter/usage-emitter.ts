import { randomUUID } from 'node:crypto';
import type { UsageRecordsJobData } from '@strata/cache-keys';
import type { JobsOptions } from 'bullmq';
import { checkUsageEvent, type UsageEvent } from '../usage-event';
import type { UsageDropReason, UsageEmitterMetrics } from './usage-emitter.metrics';

/** One job as `Queue.addBulk` takes it: the events of up to `batchSize` requests. */
export interface UsageJob {
  readonly name: 'records';
  readonly data: UsageRecordsJobData;
  readonly opts: JobsOptions & { jobId: string };
}

/** What the emitter needs of the BullMQ `Queue` of `usage` (a fake in unit tests). */
export interface UsageQueuePort {
  addBulk(jobs: UsageJob[]): Promise<unknown>;
  close(): Promise<void>;
}

/** The part of a pino logger the emitter uses. */
export interface UsageEmitterLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface UsageEmitterOptions {
  /** false (TELEMETRY_OPT_OUT): `emit` does nothing and no queue is needed. */
  readonly enabled: boolean;
  /** Required when enabled. */
  readonly queue?: UsageQueuePort;
  /** Events kept in memory while Redis is unreachable; further ones are dropped and counted. */
  readonly maxBuffer: number;
  /** Most events per job (default 100). */
  readonly batchSize?: number;
  /** How long a first event waits for others before its batch is sent (default 20 ms). */
  readonly lingerMs?: number;
  /** Retry delay after a failed batch: doubles from this (default 100 ms)… */
  readonly retryBaseMs?: number;
  /** …up to this (default 5000 ms). */
  readonly retryMaxMs?: number;
  /** A batch not acknowledged by Redis within this counts as failed and is retried (default 5000 ms). */
  readonly addTimeoutMs?: number;
  /** How long `close()` keeps trying to send what is buffered (default 5000 ms). */
  readonly closeTimeoutMs?: number;
  readonly metrics?: UsageEmitterMetrics;
  readonly logger?: UsageEmitterLogger;
  /** Job id of each batch (default: a random UUID); see the README on why ids are random. */
  readonly newJobId?: () => string;
}

/**
 * Events per job the services send: ~125 KB of JSON, one add, one fetch and one acknowledgement
 * for up to 500 requests (each job costs the telemetry-sender ~3 ms of CPU on a 2-core VM,
 * mostly socket writes of its BullMQ calls, whatever it carries).
 */
export const USAGE_JOB_MAX_EVENTS = 500;

/**
 * Options of every `usage` job. Completed jobs go at once (the telemetry-sender keeps the ids it
 * counted); failed ones — only events the sender could not read — are kept for inspection.
 */
export const USAGE_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: { count: 10000 },
};

function delay(ms: number, onWake: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref();
    onWake(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Fire-and-forget usage events for the request path. `emit` is synchronous, O(1), and never
 * throws: the event goes into a bounded in-memory buffer, and a background loop adds it to the
 * `usage` queue over a fail-fast connection, up to `batchSize` events per `records` job (one job
 * per batch, not per event: under load a job, its fetch and its acknowledgement are shared by
 * ~100 requests). While Redis is unreachable a batch is retried with backoff and the buffer
 * fills; when it is full new events are dropped and counted
 * (`strata_usage_events_dropped_total{reason}`). `close()` (on shutdown) sends what is left
 * within a deadline.
 *
 * Each batch gets a random job id once, when it is formed: a batch retried after a timeout that
 * in fact reached Redis carries the same id, so BullMQ ignores the copy if the first is still
 * queued and the telemetry-sender ignores an id it has already counted.
 */
export class UsageEmitter {
  readonly enabled: boolean;
  private readonly queue?: UsageQueuePort;
  private readonly maxBuffer: number;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly addTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly metrics?: UsageEmitterMetrics;
  private readonly logger?: UsageEmitterLogger;
  private readonly newJobId: () => string;

  /** Events not yet in a job. */
  private buffer: UsageEvent[] = [];
  /** The job being added (retried as it is, same id, until Redis acknowledges it). */
  private sending?: UsageJob;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private wake?: () => void;
  private failures = 0;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private deadline = Infinity;
  private closing?: Promise<void>;
  private lastWarning?: string;

  constructor(options: UsageEmitterOptions) {
    if (options.enabled && !options.queue) throw new Error('UsageEmitter: a queue is required');
    this.enabled = options.enabled;
    this.queue = options.queue;
    this.maxBuffer = Math.max(1, options.maxBuffer);
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.lingerMs = options.lingerMs ?? 20;
    this.retryBaseMs = options.retryBaseMs ?? 100;
    this.retryMaxMs = Math.max(this.retryBaseMs, options.retryMaxMs ?? 5000);
    this.addTimeoutMs = options.addTimeoutMs ?? 5000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.newJobId = options.newJobId ?? randomUUID;
  }

  /** Events in memory, not yet acknowledged by Redis. */
  get buffered(): number {
    return this.buffer.length + (this.sending?.data.events.length ?? 0);
  }

  /** Queues one usage event. Never throws, never waits; a no-op when disabled or closed. */
  emit(event: UsageEvent): void {
    if (!this.enabled || this.state === 'closed') return;
    try {
      const check = checkUsageEvent(event);
      if (!check.ok) {
        this.drop('invalid', 1, `usage event dropped: ${check.error}`);
        return;
      }
      if (this.buffered >= this.maxBuffer) {
        this.drop(
          'buffer_full',
          1,
          `usage buffer full (${this.maxBuffer} events, Redis unreachable): dropping new events`,
        );
        return;
      }
      this.buffer.push(check.event);
      this.metrics?.buffered.set(this.buffered);
      this.schedule();
    } catch (err) {
      this.warnOnce({ err }, `usage event not recorded: ${messageOf(err)}`);
    }
  }

  /** Resolves once everything buffered now has been added (or the emitter is closing). */
  async flush(): Promise<void> {
    if (!this.enabled) return;
    this.clearTimer();
    while (this.buffered > 0 && this.state !== 'closed') {
      await this.startFlush();
      if (this.state === 'closing' && Date.now() >= this.deadline) return;
    }
  }

  /** Sends what is buffered (for at most `closeTimeoutMs`), then stops. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (!this.enabled) {
      this.state = 'closed';
      return;
    }
    this.state = 'closing';
    this.deadline = Date.now() + this.closeTimeoutMs;
    this.clearTimer();
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.closeTimeoutMs + 100);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    const lost = this.buffered;
    this.state = 'closed';
    this.buffer = [];
    this.sending = undefined;
    this.metrics?.buffered.set(0);
    if (lost > 0) {
      this.metrics?.dropped.inc({ reason: 'shutdown' }, lost);
      this.logger?.warn(
        { lost },
        `${lost} usage events not sent before shutdown (Redis unreachable)`,
      );
    }
    await Promise.race([
      this.queue?.close().catch(() => undefined),
      new Promise<void>((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
  }

  private schedule(): void {
    if (this.flushing || this.state !== 'open') return;
    if (this.buffer.length >= this.batchSize) {
      this.clearTimer();
      void this.startFlush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.startFlush();
      }, this.lingerMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private startFlush(): Promise<void> {
    this.flushing ??= this.sendBuffered().finally(() => {
      this.flushing = undefined;
      if (this.buffered > 0) this.schedule();
    });
    return this.flushing;
  }

  private async sendBuffered(): Promise<void> {
    const queue = this.queue as UsageQueuePort;
    while (this.buffered > 0) {
      if (this.state !== 'open' && Date.now() >= this.deadline) return;
      // The job is formed once: a retry after a timeout that in fact reached Redis carries the
      // same id and the same events, so the copy is ignored (BullMQ) or not counted (sender).
      const job = (this.sending ??= {
        name: 'records',
        data: { events: this.buffer.splice(0, this.batchSize) },
        opts: { ...USAGE_JOB_OPTIONS, jobId: this.newJobId() },
      });
      try {
        await withTimeout(queue.addBulk([job]), this.addTimeoutMs);
        this.sending = undefined;
        this.metrics?.emitted.inc(job.data.events.length);
        this.metrics?.buffered.set(this.buffered);
        if (this.failures > 0) {
          this.logger?.info({ failures: this.failures }, 'usage queue reachable again');
          this.lastWarning = undefined;
        }
        this.failures = 0;
      } catch (err) {
        this.failures += 1;
        this.metrics?.failures.inc();
        this.warnOnce(
          { err, buffered: this.buffered },
          `usage events not added to the queue, retrying: ${messageOf(err)}`,
        );
        const wait = Math.min(
          this.retryMaxMs,
          this.retryBaseMs * 2 ** Math.min(this.failures - 1, 30),
        );
        const bounded = this.state === 'open' ? wait : Math.min(wait, this.deadline - Date.now());
        await delay(bounded, (wake) => (this.wake = wake));
        this.wake = undefined;
      }
    }
  }

  private drop(reason: UsageDropReason, n: number, message: string): void {
    this.metrics?.dropped.inc({ reason }, n);
    this.warnOnce({ reason }, message);
  }

  // One line per distinct problem, not one per event: a full buffer sees thousands a second.
  private warnOnce(obj: object, message: string): void {
    if (message === this.lastWarning) return;
    this.lastWarning = message;
    this.logger?.warn(obj, message);
  }
}
