import { randomUUID } from 'node:crypto';
import { bullPrefix, QUEUE, type TypedJob } from '@strata/cache-keys';
import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '@strata/service-kit';
import type { Logger } from 'pino';
import type { TelemetryMetrics } from '../metrics/telemetry.metrics';
import type { TelemetrySettings } from '../telemetry-settings';
import type { ConsumedEvent } from './usage-aggregator';
import { decodeUsageJob, type DecodedUsageJob } from './usage-job.decoder';
import type { UsageOutboxRepository } from './usage-outbox.repository';

type UsageJob = TypedJob<'usage', 'record'> | TypedJob<'usage', 'records'>;

/** A fetched job, read once when it arrives. */
interface HeldJob {
  readonly job: UsageJob;
  readonly decoded: DecodedUsageJob;
}

export interface UsageConsumerDeps {
  /** A `worker`-role connection (maxRetriesPerRequest: null): BullMQ blocks on a copy of it. */
  readonly connection: RedisClient;
  readonly outbox: UsageOutboxRepository;
  readonly settings: TelemetrySettings;
  readonly metrics: TelemetryMetrics;
  readonly logger: Logger;
}

/** How long one blocking fetch waits for a job, so flush deadlines and stop are noticed. */
const FETCH_BLOCK_SECONDS = 1;
/** Retry delays of a failed flush (Postgres down): doubling up to this. */
const FLUSH_RETRY_MAX_MS = 10000;
/** Stalled jobs are never failed: an event must not be lost because its sender crashed often. */
const MAX_STALLED_COUNT = 1_000_000_000;
/** Jobs acknowledged concurrently (ioredis pipelines them on one connection). */
const ACK_CHUNK = 200;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Consumes `usage` without a processor: fetches jobs one by one (`getNextJob`, which makes them
 * active under this process's lock), holds them (renewing their locks), and every window end —
 * or once it holds TELEMETRY_FLUSH_MAX_EVENTS, and on stop — writes their aggregates in one
 * transaction (see UsageOutboxRepository.commitFlush). Only then are the jobs completed.
 *
 * Killed at any moment: held jobs that were not committed stay active, their locks expire, and
 * BullMQ's stalled check (run by any sender) puts them back in the queue — stalled jobs are never
 * failed here (maxStalledCount is effectively infinite). Jobs committed but not completed come
 * back the same way and are recognised by their ids: counted once, completed the second time.
 */
export class UsageConsumer {
  private readonly token = randomUUID();
  private readonly held = new Map<string, HeldJob>();
  /** Events in the held jobs (a job carries up to a batch of them). */
  private heldEvents = 0;
  private worker?: Worker;
  private loop?: Promise<void>;
  private stopping = false;
  private stopped?: Promise<void>;
  private nextFlushAt = 0;
  private flushFailures = 0;
  private flushChain: Promise<unknown> = Promise.resolve();
  private lockTimer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private lastWarning?: string;

  constructor(private readonly deps: UsageConsumerDeps) {}

  start(): void {
    if (this.worker) return;
    const { settings, connection } = this.deps;
    this.worker = new Worker(QUEUE.usage, null, {
      connection,
      prefix: bullPrefix(settings.keyPrefix),
      autorun: false,
      lockDuration: settings.jobLockMs,
      stalledInterval: settings.jobLockMs,
      maxStalledCount: MAX_STALLED_COUNT,
      drainDelay: FETCH_BLOCK_SECONDS,
    });
    this.worker.on('error', (err) => this.warnOnce({ err }, `usage queue: ${err.message}`));
    this.worker.on('stalled', (jobId) =>
      this.deps.logger.debug({ jobId }, 'usage job stalled, requeued'),
    );
    this.scheduleNextFlush();
    this.lockTimer = setInterval(
      () => void this.extendLocks(),
      Math.max(250, Math.floor(settings.jobLockMs / 3)),
    );
    this.lockTimer.unref();
    this.schedulePrune();
    this.loop = this.run();
    this.deps.logger.info(
      { windowMs: settings.windowMs, flushMaxEvents: settings.flushMaxEvents },
      `consuming ${QUEUE.usage}`,
    );
  }

  /** Stops fetching, writes what it holds (if Postgres answers), closes the worker. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  /** Events held and not yet written (for tests and the gauge). */
  get heldCount(): number {
    return this.heldEvents;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    if (!this.worker) return;
    // A fetch blocks at most FETCH_BLOCK_SECONDS; with Redis down it may hang: do not wait for it.
    await Promise.race([this.loop, sleep(FETCH_BLOCK_SECONDS * 1000 + 2000)]);
    if (this.held.size > 0) await this.flush();
    if (this.lockTimer) clearInterval(this.lockTimer);
    await Promise.race([this.worker.close().catch(() => undefined), sleep(3000)]);
  }

  private async run(): Promise<void> {
    const worker = this.worker as Worker;
    await worker
      .startStalledCheckTimer()
      .catch((err: unknown) => this.warnOnce({ err }, `usage stalled check: ${messageOf(err)}`));
    while (!this.stopping) {
      const due = Date.now() >= this.nextFlushAt;
      if (this.heldEvents >= this.deps.settings.flushMaxEvents || (due && this.held.size > 0)) {
        if (!(await this.flush())) {
          const wait = Math.min(
            FLUSH_RETRY_MAX_MS,
            250 * 2 ** Math.min(this.flushFailures - 1, 10),
          );
          await sleep(wait);
          continue;
        }
      } else if (due) {
        this.scheduleNextFlush();
      }
      if (this.stopping) break;
      let job: Job | undefined;
      try {
        job = await worker.getNextJob(this.token, { block: true });
      } catch (err) {
        this.warnOnce({ err }, `usage queue: cannot fetch jobs: ${messageOf(err)}`);
        await sleep(1000);
        continue;
      }
      if (job) this.accept(job as UsageJob);
    }
  }

  private accept(job: UsageJob): void {
    const id = String(job.id);
    // A job whose lock lapsed can come back to this very process: keep one copy.
    const known = this.held.get(id);
    if (known) {
      this.held.set(id, { job, decoded: known.decoded });
      return;
    }
    const decoded = decodeUsageJob(job.name, job.data);
    const events = decoded.ok ? decoded.events.length : 0;
    this.deps.metrics.eventsReceived.inc(events);
    this.held.set(id, { job, decoded });
    this.heldEvents += events;
    this.deps.metrics.eventsHeld.set(this.heldEvents);
  }

  /** Serialised: the loop and stop() never flush at once. Resolves false when nothing was written. */
  private flush(): Promise<boolean> {
    const run = this.flushChain.then(() => this.doFlush());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async doFlush(): Promise<boolean> {
    const held = [...this.held.values()];
    if (held.length === 0) return true;
    const { outbox, settings, metrics, logger } = this.deps;
    const good: ConsumedEvent[] = [];
    const goodJobs: UsageJob[] = [];
    const bad = new Map<UsageJob, string>();
    let invalidEvents = 0;
    for (const { job, decoded } of held) {
      if (!decoded.ok) {
        bad.set(job, decoded.error);
        continue;
      }
      const jobId = String(job.id);
      decoded.events.forEach((event, seq) =>
        good.push({ jobId, ...(job.name === 'records' && { seq }), event }),
      );
      goodJobs.push(job);
      if (decoded.invalid.length > 0) {
        invalidEvents += decoded.invalid.length;
        logger.warn(
          { jobId, invalid: decoded.invalid.slice(0, 5) },
          `usage job ${jobId}: ${decoded.invalid.length} invalid events dropped`,
        );
      }
    }
    const jobs = held.map((h) => h.job);

    try {
      const result = await outbox.commitFlush(good, settings.windowMs);
      metrics.flushes.inc({ outcome: 'ok' });
      metrics.aggregatesWritten.inc(result.rows);
      metrics.eventsReplayed.inc(result.replayed);
      if (this.flushFailures > 0) logger.info('usage flush: Postgres reachable again');
      this.flushFailures = 0;
      this.lastWarning = undefined;
      logger.debug({ ...result, held: jobs.length }, 'usage flush committed');
    } catch (err) {
      this.flushFailures += 1;
      metrics.flushes.inc({ outcome: 'error' });
      this.warnOnce(
        { err, held: jobs.length },
        `usage flush failed, holding the events: ${messageOf(err)}`,
      );
      return false;
    }

    // Committed: from here on a crash only causes replays, which the consumed ids absorb.
    for (const job of jobs) this.held.delete(String(job.id));
    this.heldEvents = 0;
    for (const h of this.held.values())
      this.heldEvents += h.decoded.ok ? h.decoded.events.length : 0;
    metrics.eventsHeld.set(this.heldEvents);
    metrics.eventsInvalid.inc(bad.size + invalidEvents);
    for (const [job, error] of bad) logger.warn({ jobId: job.id }, error);
    await this.acknowledge(goodJobs, (j) => j.moveToCompleted(undefined, this.token, false));
    await this.acknowledge([...bad.keys()], (j) =>
      j.moveToFailed(new Error(bad.get(j) ?? 'invalid usage job'), this.token, false),
    );
    this.scheduleNextFlush();
    return true;
  }

  private async acknowledge(
    jobs: UsageJob[],
    ack: (j: UsageJob) => Promise<unknown>,
  ): Promise<void> {
    let failed = 0;
    let lastError: unknown;
    for (let i = 0; i < jobs.length; i += ACK_CHUNK) {
      const results = await Promise.allSettled(jobs.slice(i, i + ACK_CHUNK).map(ack));
      for (const r of results) {
        if (r.status === 'rejected') {
          failed += 1;
          lastError = r.reason;
        }
      }
    }
    // A lost lock or Redis outage: the job comes back through the stalled check and is ignored.
    if (failed > 0)
      this.deps.logger.debug(
        { failed, err: lastError },
        `${failed} usage jobs not acknowledged (they will be replayed and ignored): ${messageOf(lastError)}`,
      );
  }

  private async extendLocks(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.held.size === 0) return;
    const ids = [...this.held.keys()];
    try {
      await worker.extendJobLocks(
        ids,
        ids.map(() => this.token),
        this.deps.settings.jobLockMs,
      );
    } catch (err) {
      this.warnOnce({ err }, `usage job locks not renewed: ${messageOf(err)}`);
    }
  }

  // Flush at the end of the current window (plus a grace for stragglers), so one window of one
  // dimension usually makes one row.
  private scheduleNextFlush(): void {
    const { windowMs, flushGraceMs } = this.deps.settings;
    const now = Date.now();
    this.nextFlushAt = Math.floor(now / windowMs) * windowMs + windowMs + flushGraceMs;
  }

  // The first prune waits until jobs left active by a crash before this start have surely been
  // replayed (lock expiry plus two stalled checks), so their ids are still there to match.
  private schedulePrune(): void {
    const { jobLockMs, dedupRetentionSeconds } = this.deps.settings;
    const first = Math.max(10 * 60 * 1000, 4 * jobLockMs);
    const prune = async () => {
      try {
        const n = await this.deps.outbox.pruneConsumed(dedupRetentionSeconds);
        if (n > 0) this.deps.logger.info({ pruned: n }, `pruned ${n} consumed usage ids`);
      } catch (err) {
        this.warnOnce({ err }, `pruning consumed usage ids failed: ${messageOf(err)}`);
      }
      if (!this.stopping) {
        this.pruneTimer = setTimeout(() => void prune(), 10 * 60 * 1000);
        this.pruneTimer.unref();
      }
    };
    this.pruneTimer = setTimeout(() => void prune(), first);
    this.pruneTimer.unref();
  }

  private warnOnce(obj: object, message: string): void {
    if (message === this.lastWarning) return;
    this.lastWarning = message;
    this.deps.logger.warn(obj, message);
  }
}
