import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import { MemoryRateLimiter } from './memory-rate-limiter';
import type { RedisRateLimitAdapter } from './redis-rate-limit.adapter';
import { decisionFor, positionOf, type RateLimitDecision } from './sliding-window';

export interface RateLimitSettings {
  /** Requests per window for keys without their own limit; 0 = unlimited. */
  readonly defaultLimit: number;
  readonly windowMs: number;
  /** A Redis answer slower than this counts as an outage (the request is decided in memory). */
  readonly redisTimeoutMs: number;
  /** After an outage, how often a PING checks whether Redis is back. */
  readonly probeIntervalMs: number;
}

export const DEFAULT_RATE_LIMIT_TIMING = { redisTimeoutMs: 500, probeIntervalMs: 1000 } as const;

export interface RateLimitServiceOptions {
  redis: RedisRateLimitAdapter;
  settings: RateLimitSettings;
  logger: Logger;
  /** 1 while decisions are made in memory (Redis unreachable), else 0. */
  inMemoryGauge?: Gauge;
  memory?: MemoryRateLimiter;
  now?: () => number;
}

/** What a key is limited by: its own `rateLimit`, else the default; `undefined` = unlimited. */
export function effectiveLimit(
  own: number | null | undefined,
  defaultLimit: number,
): number | undefined {
  const limit = own ?? defaultLimit;
  return limit > 0 ? limit : undefined;
}

function timeout(ms: number): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Per API key limits over a rolling window (sliding-window.ts), shared by every gateway through
 * Redis buckets. While Redis is unreachable — the connection is down, a command fails, or it
 * does not answer within `redisTimeoutMs` — each gateway decides in process memory with the same
 * algorithm (starting from the counts Redis last returned), so it keeps protecting itself.
 * Decisions go back to Redis as soon as the connection is up again (ioredis reconnects by
 * itself) or, after an error or a timeout on a live connection, once a PING (at most one per
 * `probeIntervalMs`) answers. Requests counted in memory meanwhile are not copied to Redis.
 */
export class RateLimitService {
  private readonly redis: RedisRateLimitAdapter;
  private readonly memory: MemoryRateLimiter;
  private readonly now: () => number;
  private readonly logger: Logger;
  private mode: 'redis' | 'memory' = 'redis';
  /** Set when Redis failed or timed out while connected: skipped until a PING answers. */
  private suspended = false;
  private probing = false;
  private nextProbeAt = 0;

  constructor(private readonly options: RateLimitServiceOptions) {
    this.redis = options.redis;
    this.memory = options.memory ?? new MemoryRateLimiter();
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    options.inMemoryGauge?.set(0);
  }

  get settings(): RateLimitSettings {
    return this.options.settings;
  }

  /** Whether the last decision was made in memory (Redis unreachable). */
  get inMemory(): boolean {
    return this.mode === 'memory';
  }

  /** The limit of a key (`undefined` = unlimited: nothing is counted). */
  limitFor(own: number | null | undefined): number | undefined {
    return effectiveLimit(own, this.settings.defaultLimit);
  }

  /** Counts one request of `keyHash` against `limit`, if it fits. */
  async hit(keyHash: string, limit: number): Promise<RateLimitDecision> {
    const { windowMs } = this.settings;
    const nowMs = this.now();
    // The connection state is free to read and follows reconnects by itself; a failure while
    // connected (an error, or no answer in time) suspends Redis until a PING answers.
    if (!this.redis.connected) {
      this.switchTo('memory', 'the Redis connection is down');
    } else if (this.suspended) {
      this.probe(nowMs);
    } else {
      const { window, elapsedMs } = positionOf(nowMs, windowMs);
      const deadline = timeout(this.settings.redisTimeoutMs);
      try {
        const result = await Promise.race([
          this.redis.hit(keyHash, window, elapsedMs, limit, windowMs),
          deadline.promise,
        ]);
        this.memory.record(keyHash, window, result.after);
        this.switchTo('redis');
        return decisionFor(result.before, result.allowed, limit, windowMs, elapsedMs);
      } catch (err) {
        this.suspended = true;
        this.nextProbeAt = nowMs + this.settings.probeIntervalMs;
        this.switchTo('memory', err instanceof Error ? err.message : String(err));
      } finally {
        deadline.cancel();
      }
    }
    return this.memory.hit(keyHash, limit, windowMs, nowMs);
  }

  private switchTo(mode: 'redis' | 'memory', why?: string): void {
    if (this.mode === mode) return;
    this.mode = mode;
    this.options.inMemoryGauge?.set(mode === 'memory' ? 1 : 0);
    if (mode === 'memory') {
      this.logger.warn(
        `rate limits: Redis unreachable (${why}), limiting in process memory (per gateway) until it returns`,
      );
    } else {
      this.logger.info('rate limits: Redis is back, limiting through Redis again');
    }
  }

  /** At most one PING in flight and one per interval; an answer lifts the suspension. */
  private probe(nowMs: number): void {
    if (this.probing || nowMs < this.nextProbeAt) return;
    this.probing = true;
    this.nextProbeAt = nowMs + this.settings.probeIntervalMs;
    const deadline = timeout(this.settings.redisTimeoutMs);
    void Promise.race([this.redis.ping(), deadline.promise])
      .then(() => {
        this.suspended = false;
      })
      .catch(() => undefined)
      .finally(() => {
        deadline.cancel();
        this.probing = false;
      });
  }
}
