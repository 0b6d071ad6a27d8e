import {
  bullPrefix,
  modelLoadQueue,
  typedProducer,
  type ClearResult,
  type EnsureResult,
  type JobData,
  type JobName,
  type JobResult,
  type ModelVersionRef,
  type TypedProducer,
} from '@strata/cache-keys';
import { Job, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { promises as fs } from 'node:fs';
import type { RedisClient } from '@strata/redis-topology';
import { decodeLoaderFailure, ModelLoaderError } from './loader-error';
import { ReadyVersions } from './ready-versions.repository';

export interface ModelLoaderClientOptions {
  /**
   * Connection that adds jobs. Give it the `producer` role (fail fast:
   * `enableOfflineQueue: false`, `maxRetriesPerRequest: 1`): a request made while Redis is down
   * fails at once instead of waiting for Redis to come back. The client never closes it.
   */
  readonly connection: RedisClient;
  /**
   * Connection for the queue's completion events (the `worker` role:
   * `maxRetriesPerRequest: null`, as BullMQ requires for blocking reads). BullMQ duplicates it.
   */
  readonly eventsConnection: RedisClient;
  /** `REDIS_KEY_PREFIX`: the loader's queue lives under it. */
  readonly keyPrefix: string;
  /** `CACHE_DOMAIN` whose loader answers (`model-load:{domain}`). */
  readonly domain: string;
  /** Used when a call gives no `timeoutMs` (default 120 s). */
  readonly defaultTimeoutMs?: number;
  /** Expected requests in flight at once; sizes the event listener limits (default 1000). */
  readonly maxInFlight?: number;
  /** Errors of the event stream (connection problems); default: ignored, it reconnects. */
  readonly onError?: (err: Error) => void;
}

export interface CallOptions {
  /** How long to wait for the loader's answer, queueing included. */
  readonly timeoutMs?: number;
}

export interface EnsureOptions extends CallOptions {
  /**
   * Worker id whose lease on the version ({@link ModelLeases.acquireLease}) is live. With it, a
   * version the loader has already verified is answered from Redis in one round trip instead of
   * through the queue; without it (or when the loader's index cannot vouch) the loader is asked.
   */
  readonly leaseHolder?: string;
}

/** Where an answer came from: the loader's index in Redis, or the loader itself (the queue). */
export type EnsureAnswer = EnsureResult & { readonly via: 'index' | 'loader' };

const DEFAULT_TIMEOUT_MS = 120_000;
const CLOSE_WAIT_MS = 1000;
/**
 * How often a call also reads its job's state. BullMQ's QueueEvents of a brand-new client starts
 * reading the event stream at its newest entry only once its connection is up; a job finished
 * between BullMQ's own "already finished?" check and that first read has its event missed (seen
 * in CI: the first call of a fresh client hung until its timeout). The poll bounds that case.
 */
const STATE_POLL_MS = 500;

// Finished jobs are kept briefly so a waiter that subscribes late still finds the outcome, then
// trimmed so the queue does not grow without bound.
const JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 24 * 3600, count: 5000 },
};

type LoadJob = JobName<'model-load'>;

/**
 * Asks the model-loader of one cache domain for model versions through its BullMQ queue
 * (`model-load:{domain}`) and waits for the answer. Every failure is a {@link ModelLoaderError}
 * whose code and message are the loader's own (or `TIMEOUT` / `INTERNAL` from the client).
 *
 * Workers that then read the files should hold a lease on the version first
 * ({@link ModelLeases.acquireLease}): the loader never evicts a version with a live lease.
 */
export class ModelLoaderClient {
  readonly queueName: string;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly producer: TypedProducer<'model-load'>;
  private readonly readyList: ReadyVersions;
  private readonly defaultTimeoutMs: number;
  private closed = false;

  constructor(private readonly options: ModelLoaderClientOptions) {
    this.queueName = modelLoadQueue(options.domain);
    const prefix = bullPrefix(options.keyPrefix);
    this.queue = new Queue(this.queueName, { connection: options.connection, prefix });
    this.events = new QueueEvents(this.queueName, {
      connection: options.eventsConnection,
      prefix,
    });
    const onError = options.onError ?? (() => undefined);
    this.queue.on('error', onError);
    this.events.on('error', onError);
    const listeners = (options.maxInFlight ?? 1000) * 2 + 16;
    this.queue.setMaxListeners(listeners);
    this.events.setMaxListeners(listeners);
    this.producer = typedProducer('model-load', this.queue);
    this.readyList = new ReadyVersions(options.connection, options.keyPrefix);
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Resolves once the completion event stream is listening (optional; calls wait for it anyway). */
  async ready(): Promise<void> {
    await this.events.waitUntilReady();
  }

  /**
   * Path of a verified local copy of the version (downloaded first when it is not cached). Give
   * `leaseHolder` when holding a lease on it: a warm version then skips the queue.
   */
  async ensure(ref: ModelVersionRef, options: EnsureOptions = {}): Promise<EnsureAnswer> {
    if (options.leaseHolder !== undefined && !this.closed) {
      const path = await this.fromIndex(ref, options.leaseHolder);
      if (path !== undefined) return { path, cached: true, via: 'index' };
    }
    const answer = await this.call('ensure', { model: ref.model, version: ref.version }, options);
    return { ...answer, via: 'loader' };
  }

  /**
   * Tells the loader this version is no longer needed (e.g. after unloading it). It removes the
   * files unless a worker still holds a lease or `DISK_CACHE_CLEANUP=false`.
   */
  evict(ref: ModelVersionRef, options: CallOptions = {}): Promise<{ evicted: boolean }> {
    return this.call('evict', { model: ref.model, version: ref.version }, options);
  }

  /** Removes every cached version of `model` (all models when omitted) that no worker holds. */
  clear(model?: string, options: CallOptions = {}): Promise<ClearResult> {
    return this.call('clear', model === undefined ? {} : { model }, options);
  }

  /** Stops listening for answers; pending calls fail. Does not close the given connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = Promise.allSettled([this.events.close(), this.queue.close()]);
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    // BullMQ waits for the event stream's own connection (a duplicate it made) to come up before
    // closing it, which never happens while Redis is away; drop it so nothing keeps retrying.
    if (!finished)
      (
        this.events as unknown as { connection?: { _client?: { disconnect(): void } } }
      ).connection?._client?.disconnect();
  }

  private async call<N extends LoadJob>(
    name: N,
    data: JobData<'model-load', N>,
    options: CallOptions,
  ): Promise<JobResult<'model-load', N>> {
    if (this.closed) throw new ModelLoaderError('INTERNAL', 'the model-loader client is closed');
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    // BullMQ's first use of a queue waits for `ready` however long Redis is away; a request must
    // not, so the connection is checked (or its first connect awaited) here.
    await connected(this.options.connection, timeoutMs, this.queueName);

    let jobId: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ModelLoaderError(
              'TIMEOUT',
              `model-loader did not answer ${name} ${describe(data)} within ${timeoutMs} ms (${this.queueName})`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const run = async () => {
        let job;
        try {
          job = await this.producer.add(name, data, JOB_OPTIONS);
        } catch (err) {
          throw new ModelLoaderError(
            'INTERNAL',
            `cannot queue ${name} ${describe(data)} on ${this.queueName}: ${messageOf(err)}`,
            { cause: err, retryable: true },
          );
        }
        jobId = job.id;
        const polling = { stop: false };
        try {
          return (await Promise.race([
            job.waitUntilFinished(this.events, Math.max(deadline - Date.now(), 1)),
            this.pollOutcome(job.id as string, deadline, polling),
          ])) as JobResult<'model-load', N>;
        } catch (err) {
          throw decodeLoaderFailure(messageOf(err));
        } finally {
          polling.stop = true;
        }
      };
      return await Promise.race([run(), timedOut]);
    } catch (caught) {
      let err = caught;
      // BullMQ's own wait limit fired first (same deadline): report it like ours.
      if (
        err instanceof ModelLoaderError &&
        /^Job wait .* timed out before finishing/.test(err.message)
      )
        err = new ModelLoaderError(
          'TIMEOUT',
          `model-loader did not answer ${name} ${describe(data)} within ${timeoutMs} ms (${this.queueName})`,
        );
      if (err instanceof ModelLoaderError && err.code === 'TIMEOUT' && jobId !== undefined) {
        // Nobody waits for it any more; drop it if no loader has taken it yet (0 when active).
        await this.queue.remove(jobId).catch(() => 0);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The loader's index entry for a leased version, if it vouches for it and the directory is
   * there (an entry can outlive its files only briefly, in a race with an eviction). Any doubt or
   * error means undefined: the loader decides.
   */
  private async fromIndex(ref: ModelVersionRef, holder: string): Promise<string | undefined> {
    if (this.options.connection.status !== 'ready') return undefined;
    try {
      const listed = await this.readyList.lookupLeased(
        this.options.domain,
        ref.model,
        ref.version,
        holder,
      );
      if (listed === null) return undefined;
      return (await fs.stat(listed)).isDirectory() ? listed : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Resolves with the job's return value, or rejects with its failure, once its stored state says
   * it finished; never settles otherwise (the event, or the caller's deadline, ends the call).
   */
  private async pollOutcome(
    jobId: string,
    deadline: number,
    polling: { stop: boolean },
  ): Promise<unknown> {
    while (!polling.stop && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, STATE_POLL_MS).unref());
      if (polling.stop) break;
      const job = await Job.fromId(this.queue, jobId).catch(() => undefined);
      if (!job?.finishedOn) continue;
      if (job.failedReason && (await job.isFailed().catch(() => false))) {
        throw new Error(job.failedReason);
      }
      return job.returnvalue;
    }
    return new Promise<never>(() => undefined);
  }
}

const CONNECTING = new Set(['wait', 'connecting', 'connect']);

/** Resolves when `redis` is ready; rejects at once if it is not and not on its first connect. */
async function connected(redis: RedisClient, timeoutMs: number, queueName: string): Promise<void> {
  const refuse = (why: string) =>
    new ModelLoaderError(
      'INTERNAL',
      `cannot ask the model-loader (${queueName}): Redis is not connected (${why})`,
      { retryable: true },
    );
  if (redis.status === 'ready') return;
  if (!CONNECTING.has(redis.status)) throw refuse(redis.status);
  if (redis.status === 'wait') redis.connect().catch(() => undefined); // lazyConnect
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      redis.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onError = (err: Error) => done(refuse(err.message));
    const onEnd = () => done(refuse('end'));
    const timer = setTimeout(() => done(refuse(`still ${redis.status}`)), timeoutMs);
    redis.once('ready', onReady);
    redis.once('error', onError);
    redis.once('end', onEnd);
  });
}

function describe(data: unknown): string {
  const d = data as Partial<ModelVersionRef>;
  if (d.model === undefined) return 'of every model';
  return d.version === undefined
    ? JSON.stringify(String(d.model))
    : `${JSON.stringify(String(d.model))} version ${JSON.stringify(d.version)}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
