import type { RedisKeys } from '@strata/cache-keys';
import type { Redis } from 'ioredis';

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
}

const MAX_MESSAGE = 300;

/**
 * Recent-inference and recent-error records: per model and worker a sorted set (score = finish
 * time, member = small JSON), trimmed to the last `limit`, living `ttlSeconds` past the last
 * write; the worker is registered in `recentWorkers(model)` (sorted set worker → last write) so
 * readers find the sets without SCAN. All keys of a model share its hash tag: one MULTI.
 */
export class RecentInferenceRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: RecentRecordOptions,
  ) {}

  recordSuccess(model: string, record: RecentInference): Promise<void> {
    return this.write(
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
    return this.write(model, this.keys.recentErrors(model, this.options.workerId), record.at, {
      ...record,
      message,
    });
  }

  private async write(model: string, key: string, at: number, member: object): Promise<void> {
    const { workerId, limit, ttlSeconds } = this.options;
    const workers = this.keys.recentWorkers(model);
    await this.redis
      .multi()
      .zadd(key, at, JSON.stringify(member))
      .zremrangebyrank(key, 0, -(limit + 1))
      .expire(key, ttlSeconds)
      .zadd(workers, at, workerId)
      .zremrangebyscore(workers, '-inf', at - ttlSeconds * 1000)
      .expire(workers, ttlSeconds)
      .exec();
  }
}
