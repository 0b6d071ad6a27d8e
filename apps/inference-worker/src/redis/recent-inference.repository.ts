import type { RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';

/** A member of `RedisKeys.recentInferences(model, worker)`. */
export interface RecentInference {
  /** Request id when the gateway sent one, else the job id. */
  readonly id: string;
  readonly version: number;
  /** Compute time of the run that answered it (ms). */
  readonly ms: number;
  /** Items in that run. */
  readonly batch: number;
  /** Finish time, Unix ms (also the score). */
  readonly at: number;
}

/** A member of `RedisKeys.recentErrors(model, worker)`. */
export interface RecentError {
  readonly id: string;
  readonly version: number;
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

export interface RecentRecordOptions {
  readonly workerId: string;
  /** Members kept per set. */
  readonly limit: number;
  /** Lifetime of the sets: 2 × METRICS_INTERVAL. */
  readonly ttlSeconds: number;
  /** How long a record may wait for others to share its write (default 20 ms). */
  readonly lingerMs?: number;
}

/** Records that go out at once, without waiting for the linger to end. */
const MAX_QUEUED = 256;

const MAX_MESSAGE = 300;

interface QueuedRecord {
  readonly model: string;
  readonly key: string;
  readonly at: number;
  readonly member: string;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Recent-inference and recent-error records: per model and worker a sorted set (score = finish
 * time, member = small JSON), trimmed to the last `limit`, living `ttlSeconds` past the last
 * write; the worker is registered in `recentWorkers(model)` (sorted set worker → last write) so
 * readers find the sets without SCAN. All keys of a model share its hash tag: one MULTI.
 *
 * Writes are off the answer's path and coalesced: a record waits up to `lingerMs` (or until
 * MAX_QUEUED are waiting) for others, and they go together — one MULTI per model with one ZADD of
 * all its members and one trim and EXPIRE per set. On this kind of machine each Redis write costs
 * ~0.1–0.3 ms of CPU (syscall and loopback wake-up), so one write per inference was a real share
 * of an inference's price; now it is one per linger period. A record is visible up to `lingerMs`
 * after its answer. A record's promise settles with the write that carried it; `close()` writes
 * what is still waiting.
 */
export class RecentInferenceRepository {
  private queued: QueuedRecord[] = [];
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RecentRecordOptions,
  ) {}

  recordSuccess(model: string, record: RecentInference): Promise<void> {
    return this.enqueue(
      model,
      this.keys.recentInferences(model, this.options.workerId),
      record.at,
      record,
    );
  }

  recordError(model: string, record: RecentError): Promise<void> {
    const message =
      record.message.length > MAX_MESSAGE
        ? `${record.message.slice(0, MAX_MESSAGE)}…`
        : record.message;
    return this.enqueue(model, this.keys.recentErrors(model, this.options.workerId), record.at, {
      ...record,
      message,
    });
  }

  private enqueue(model: string, key: string, at: number, member: object): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ model, key, at, member: JSON.stringify(member), resolve, reject });
      this.schedule();
    });
  }

  /** Writes what is waiting (and waits for a write in flight). */
  async close(): Promise<void> {
    while (this.writing || this.queued.length > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      await (this.writing ?? this.flush());
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Nest: jobs have drained by now (the queue host closes first); their records go out. */
  onModuleDestroy(): Promise<void> {
    return this.close();
  }

  private schedule(): void {
    if (this.writing || this.queued.length === 0) return;
    if (this.queued.length >= MAX_QUEUED) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.lingerMs ?? 20);
    this.timer.unref();
  }

  private flush(): Promise<void> {
    this.writing = this.write(this.queued).finally(() => {
      this.writing = undefined;
      this.schedule();
    });
    this.queued = [];
    return this.writing;
  }

  private async write(batch: readonly QueuedRecord[]): Promise<void> {
    const { workerId, limit, ttlSeconds } = this.options;
    const byModel = new Map<string, QueuedRecord[]>();
    for (const r of batch) {
      const list = byModel.get(r.model);
      if (list) list.push(r);
      else byModel.set(r.model, [r]);
    }
    await Promise.all(
      [...byModel].map(async ([model, records]) => {
        try {
          const multi = this.redis.multi();
          const sets = new Map<string, (string | number)[]>();
          let last = 0;
          for (const r of records) {
            const args = sets.get(r.key);
            if (args) args.push(r.at, r.member);
            else sets.set(r.key, [r.at, r.member]);
            last = Math.max(last, r.at);
          }
          for (const [key, args] of sets) {
            multi
              .zadd(key, ...args)
              .zremrangebyrank(key, 0, -(limit + 1))
              .expire(key, ttlSeconds);
          }
          const workers = this.keys.recentWorkers(model);
          const results = await multi
            .zadd(workers, last, workerId)
            .zremrangebyscore(workers, '-inf', last - ttlSeconds * 1000)
            .expire(workers, ttlSeconds)
            .exec();
          const failed = results?.find(([e]: [Error | null, unknown]) => e)?.[0];
          if (failed) throw failed;
          for (const r of records) r.resolve();
        } catch (err) {
          for (const r of records) r.reject(err);
        }
      }),
    );
  }
}
