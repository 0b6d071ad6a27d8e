import { randomUUID } from 'node:crypto';
import {
  decodeJobFailure,
  parseInferAnswer,
  type JobData,
  type JobName,
  type JobResult,
} from '@strata/cache-keys';
import type { Queue } from 'bullmq';
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
  /** When the job was submitted (its state is read once it waited longer than a poll). */
  since: number;
}

/** Default of `pollMs`: as the loader client's state poll (packages/loader-client). */
const STATE_POLL_MS = 500;

/** Finished jobs are kept this long so a gateway that missed the notice finds the outcome. */
const KEEP_FINISHED = { age: 60, count: 10_000 };

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
  /**
   * A connection of its own for the reply channel (subscriber mode; resubscribes by itself after
   * a reconnect). Its owner closes it.
   */
  subscriber: RedisClient;
  /** This gateway's reply channel (`RedisKeys.inferAnswers(instance)`), put in every job. */
  replyTo: string;
  logger: Logger;
  /** Expected requests in flight (listener limits are raised to it). */
  maxInFlight: number;
  /** How long a job waits for its notice before its state is read as well (default 500 ms). */
  pollMs?: number;
}

/**
 * The gateway's side of the `infer` queue: adds jobs and waits for their answers on a reply
 * channel of its own. Every job carries this gateway's channel (`replyTo`); the worker that
 * finishes it (the result recorded on the job first) publishes the result, the failure, or — for
 * a result too large for a message — only the job id, and the gateway reads the job. So a
 * gateway wakes once per job and hears only about its own jobs (a QueueEvents woke every gateway
 * for every event of the queue: added, active, completed).
 *
 * Pub/sub may lose a notice (subscriber reconnect, Redis restart, failover; on a Cluster the
 * subscriber's node going away): finished jobs are kept a while (KEEP_FINISHED), and the state
 * of every job waiting longer than `pollMs` is read every `pollMs` (one pipelined read for all
 * of them; at once after the subscriber reconnects), so a lost notice costs at most ~2 × pollMs.
 * A waiter that times out is dropped (a late answer finds nobody) and the job removed if it is
 * still waiting; a job already taken by a worker is dropped by the worker at its deadline.
 */
export class InferQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly pollMs: number;
  private starting?: Promise<void>;
  private subscribed = false;
  private poller?: NodeJS.Timeout;
  private polling = false;
  private closed = false;

  constructor(private readonly options: InferQueueOptions) {
    this.pollMs = options.pollMs ?? STATE_POLL_MS;
    options.queue.setMaxListeners(Math.max(options.maxInFlight, 10));
    options.queue.on('error', (err) =>
      options.logger.debug({ err }, `infer queue: ${messageOf(err)}`),
    );
    const { subscriber, replyTo, logger } = options;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === replyTo) this.onAnswer(message);
    });
    subscriber.on('error', (err: Error) =>
      logger.debug({ err }, `infer answers: ${messageOf(err)} (reconnecting)`),
    );
    // ioredis resubscribes on reconnect; notices sent while it was away are read from the jobs.
    subscriber.on('ready', () => {
      if (this.subscribed) void this.poll(0);
    });
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

  /** Nest calls it at boot: subscribe before the first request (not awaited: Redis may be away). */
  onModuleInit(): void {
    this.ready().catch((err: unknown) =>
      this.options.logger.warn({ err }, `infer answers: not subscribed yet: ${messageOf(err)}`),
    );
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
    this.poller ??= setInterval(() => void this.poll(this.pollMs), this.pollMs).unref();
    await this.options.subscriber.subscribe(this.options.replyTo);
    this.subscribed = true;
  }

  private onAnswer(message: string): void {
    if (this.pending.size === 0) return;
    const answer = parseInferAnswer(message);
    if (!answer || !this.pending.has(answer.id)) return;
    if ('r' in answer) this.settle(answer.id, true, answer.r);
    else if (typeof answer.e === 'string') this.settle(answer.id, false, answer.e);
    else void this.readStates([answer.id]);
  }

  /** Reads the state of the jobs waiting at least `minAgeMs`; settles the finished ones. */
  private async poll(minAgeMs: number): Promise<void> {
    if (this.polling || this.pending.size === 0) return;
    if (this.options.connection.status !== 'ready') return;
    const now = Date.now();
    const ids: string[] = [];
    for (const [id, waiter] of this.pending) if (now - waiter.since >= minAgeMs) ids.push(id);
    if (ids.length === 0) return;
    this.polling = true;
    try {
      await this.readStates(ids);
    } finally {
      this.polling = false;
    }
  }

  private async readStates(ids: readonly string[]): Promise<void> {
    const { queue, connection, logger } = this.options;
    try {
      // All keys of the queue share its hash tag: one pipeline even on a Cluster.
      const pipeline = connection.pipeline();
      for (const id of ids)
        pipeline.hmget(queue.toKey(id), 'returnvalue', 'failedReason', 'finishedOn');
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, fields], i) => {
        if (err) return;
        const [returnvalue, failedReason, finishedOn] = fields as (string | null)[];
        if (finishedOn === null) return;
        if (returnvalue !== null) this.settle(ids[i], true, parseResult(returnvalue));
        else if (failedReason !== null) this.settle(ids[i], false, failedReason);
      });
    } catch (err) {
      logger.debug({ err }, `infer job states not read: ${messageOf(err)}`);
    }
  }

  private settle(jobId: string, ok: boolean, value: unknown): void {
    const waiter = this.pending.get(jobId);
    if (!waiter) return;
    this.pending.delete(jobId);
    clearTimeout(waiter.timer);
    if (ok) waiter.resolve(value);
    else waiter.reject(decodeJobFailure(typeof value === 'string' ? value : String(value)));
  }

  // Until the first subscription is in place (Redis away at boot) jobs are not held up for
  // long: their answers are then found by the state poll.
  private async started(): Promise<void> {
    if (this.subscribed) return;
    await Promise.race([this.ready().catch(() => undefined), delay(this.pollMs)]);
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
    await this.started();
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
      this.pending.set(jobId, {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
        since: Date.now(),
      });
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
        this.options.queue.add(
          name,
          { ...(data as object), replyTo: this.options.replyTo } as JobData<'infer', N>,
          { jobId, attempts: 1, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
        ),
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

  /** Fails the waits still open (503), stops the state poll and closes the queue. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    for (const [jobId, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new UnavailableError('the gateway is shutting down'));
      this.pending.delete(jobId);
    }
    await this.starting?.catch(() => undefined);
    // Bounded: with Redis down BullMQ's close can wait for a connection that never comes.
    await Promise.race([this.options.queue.close().catch(() => undefined), delay(2000)]);
  }
}

function parseResult(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}
