import type { ModelVersionRef, RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';

// Expiries use the Redis server's clock (TIME), as leases do, so workers on hosts whose clocks
// differ still agree which entries are live.
const MARK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1000)
return 1
`;

const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`;

/**
 * Which workers have a version loaded: `RedisKeys.placement(model, version)` is a sorted set of
 * worker id → expiry (Unix ms, Redis server time). A worker marks a version when it loads it,
 * re-marks it while it stays loaded, and unmarks it when it unloads; a dead worker's entry
 * expires, and the key itself expires with its last entry. Readers take members whose score is
 * in the future (see {@link workers}).
 */
export class PlacementRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async mark(ref: ModelVersionRef, workerId: string, ttlMs: number): Promise<void> {
    await this.redis.eval(
      MARK,
      1,
      this.keys.placement(ref.model, ref.version),
      workerId,
      String(ttlMs),
    );
    await this.redis.zadd(
      this.keys.placementIndex(),
      Date.now() + ttlMs,
      `${ref.model}/${ref.version}`,
    );
  }

  async unmark(ref: ModelVersionRef, workerId: string): Promise<void> {
    await this.redis.zrem(this.keys.placement(ref.model, ref.version), workerId);
  }

  /** Workers with the version loaded now. */
  async workers(ref: ModelVersionRef): Promise<string[]> {
    const live = await this.redis.eval(LIVE, 1, this.keys.placement(ref.model, ref.version));
    return Array.isArray(live) ? live.map(String) : [];
  }
}
