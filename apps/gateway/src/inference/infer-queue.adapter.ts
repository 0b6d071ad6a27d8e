import { randomUUID } from 'node:crypto';
import { decodeJobFailure, type JobData, type JobName, type JobResult } from '@strata/cache-keys';
import type { Queue, QueueEvents } from 'bullmq';
import { isClusterClient, type RedisClient } from '@strata/service-kit';
import type { Logger } from 'pino';
import { GatewayTimeoutError, UnavailableError, messageOf } from '../http/http-errors';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface SubmitOptions {
  timeoutMs: number;
  /** Use this job id (its blobs are named after it); default a new UUID. */
  jobId?: string;
  /** Called when the job was removed unanswered after the timeout (to delete its blobs). */
  onAbandoned?: () => void;
  /**
   * Blobs the job refers to (`RedisKeys.blob`), written on the queue's own connection just
   * before the job: one connection keeps them in order, so a worker never sees the job before
   * its blobs, and the gateway does not wait a round trip for them first (on a Cluster it does:
   * there the blobs and the job go to different nodes).
   */
  blobs?: readonly { key: string; data: Buffer; ttlMs: number }[];
}

export interface InferQueueOptions {
  queue: Queue;
  /** The queue's (fail-fast) connection: while it is not ready, calls fail at once with 503. */
  connection: RedisClient;
  /** A QueueEvents on its own blocking connection, reading the stream after `lastEventId`. */
  createEvents: (lastEventId: string) => QueueEvents;
  logger: Logger;
  /** Expected requests in flight (listener limits are raised to it). */
  maxInFlight: number;
}

/**
 * The gateway's side of the `infer` queue: adds jobs and waits for their answers. One
 * QueueEvents per process, with two listeners (`completed`, `failed`) that settle waiters from a
 * map by job id, so the listener count does not grow with requests in flight. The QueueEvents
 * starts reading the events stream just after the newest event that existed when it was
 * created, so no answer of a job added afterwards is missed however late its blocking read
 * begins. A waiter that times out is dropped (a late answer finds nobody) and the job removed if
 * it is still waiting; a job already taken by a worker is dropped by the worker at its deadline.
 */
export class InferQueue {
  private readonly pending = new Map<string, Pending>();
  private events?: QueueEvents;
  private starting?: Promise<void>;
  private closed = false;

  constructor(private readonly options: InferQueueOptions) {
    options.queue.setMaxListeners(Math.max(options.maxInFlight, 10));
    options.queue.on('error', (err) =>
      options.logger.debug({ err }, `infer queue: ${messageOf(err)}`),
    );
  }

  get queue(): Queue {
    return this.options.queue;
  }

  /** Jobs waiting for a worker. */
  async waiting(): Promise<number> {
    this.checkConnected();
    return this.options.queue.getJobCountByTypes('waiting', 'prioritized');
  }

  // BullMQ waits for a connection that is not ready yet instead of failing: refuse at once.
  private checkConnected(): void {
    const status = this.options.connection.status;
    if (status !== 'ready') {
      throw new UnavailableError(`Redis is unavailable (connection ${status}); try again shortly`);
    }
  }

  /** Starts listening for answers (once; again after a failed start). */
  ready(): Promise<void> {
    this.starting ??= this.start().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    const { queue, createEvents, logger, maxInFlight } = this.options;
    const client = (await queue.client) as unknown as RedisClient;
    const newest = await client.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
    const events = createEvents(newest[0]?.[0] ?? '0-0');
    events.setMaxListeners(Math.max(maxInFlight, 10));
    events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, true, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, false, failedReason));
    events.on('error', (err) =>
      logger.debug({ err }, `infer queue events: ${messageOf(err)} (reconnecting)`),
    );
    this.events = events;
  }

  private settle(jobId: string, ok: boolean, value: unknown): void {
    const waiter = this.pending.get(jobId);
    if (!waiter) return;
    this.pending.delete(jobId);
    clearTimeout(waiter.timer);
    if (ok) waiter.resolve(value);
    else waiter.reject(decodeJobFailure(typeof value === 'string' ? value : String(value)));
  }

  /**
   * Adds a job and resolves with its result, rejects with its failure (a JobError with the
   * worker's code), or with a 504 after `timeoutMs`.
   */
  async submit<N extends JobName<'infer'>>(
    name: N,
    data: JobData<'infer', N>,
    options: SubmitOptions,
  ): Promise<JobResult<'infer', N>> {
    if (this.closed) throw new UnavailableError('the gateway is shutting down');
    this.checkConnected();
    await this.ready();
    const jobId = options.jobId ?? randomUUID();
    const answer = new Promise<JobResult<'infer', N>>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(jobId)) return;
        reject(
          new GatewayTimeoutError(
            `no answer from an inference worker within ${options.timeoutMs} ms`,
          ),
        );
        void this.abandon(jobId, options.onAbandoned);
      }, options.timeoutMs);
      this.pending.set(jobId, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
    try {
      const connection = this.options.connection;
      const puts = (options.blobs ?? []).map((b) =>
        connection.set(b.key, b.data, 'PX', Math.max(1000, Math.ceil(b.ttlMs))),
      );
      // On a Cluster each blob and the queue sit on their own nodes, each with its own
      // connection: nothing orders them, so the job waits for its blobs (one round trip).
      if (puts.length > 0 && isClusterClient(connection)) await Promise.all(puts);
      await Promise.all([
        ...puts,
        this.options.queue.add(name, data, {
          jobId,
          attempts: 1,
          removeOnComplete: true,
          removeOnFail: true,
        }),
      ]);
    } catch (err) {
      const waiter = this.pending.get(jobId);
      if (waiter) clearTimeout(waiter.timer);
      this.pending.delete(jobId);
      // The promise above is dropped unsettled: nothing waits on it.
      answer.catch(() => undefined);
      throw err;
    }
    return answer;
  }

  /** After a timeout: remove the job if no worker took it yet (then nobody reads its blobs). */
  private async abandon(jobId: string, onAbandoned?: () => void): Promise<void> {
    try {
      const removed = await this.options.queue.remove(jobId);
      if (removed === 1) onAbandoned?.();
    } catch (err) {
      this.options.logger.debug({ err, jobId }, `timed-out job not removed: ${messageOf(err)}`);
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Resolves when no request waits for an answer (each wait ends by its own timeout). */
  async drain(pollMs = 25): Promise<void> {
    while (this.pending.size > 0) await delay(pollMs);
  }

  /** Fails the waits still open (503) and closes the queue and its event stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [jobId, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new UnavailableError('the gateway is shutting down'));
      this.pending.delete(jobId);
    }
    await this.starting?.catch(() => undefined);
    // Bounded: with Redis down BullMQ's close can wait for a connection that never comes.
    await Promise.race([
      Promise.allSettled([this.events?.close(), this.options.queue.close()]),
      delay(2000),
    ]);
  }
}
