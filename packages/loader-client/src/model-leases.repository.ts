import { RedisKeys, TTL_DEFAULTS } from '@strata/cache-keys';
import type { RedisClient } from '@strata/redis-topology';

// Time comes from the Redis server (TIME), never from the caller, so the expiries written by
// workers on different hosts compare correctly whatever their clocks say.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** ARGV: worker, ttlMs. Returns 1 when the worker already held a live lease. */
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local had = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1000)
if had then return 1 end
return 0
`;

/** Live leases: worker ids whose expiry is in the future. */
const LIVE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`;

/**
 * Leases of workers on cached versions of one cache domain: `RedisKeys.leases(domain, model,
 * version)` is a sorted set of worker id → lease expiry (Unix ms, Redis server time). A worker
 * acquires a lease before it asks the loader for a version, refreshes it well within the TTL
 * while the model is loaded, and releases it when it unloads; a crashed worker's lease simply
 * expires. The model-loader never evicts a version with a live lease.
 */
export class ModelLeases {
  private readonly keys: RedisKeys;

  /** `redis`: a fail-fast (`cache` role) connection; `keyPrefix`: REDIS_KEY_PREFIX. */
  constructor(
    private readonly redis: RedisClient,
    keyPrefix: string,
  ) {
    this.keys = new RedisKeys(keyPrefix);
  }

  /**
   * Records (or extends) `workerId`'s lease for `ttlMs` (default `TTL_DEFAULTS.lease` s).
   * Returns true when the worker already held a live lease.
   */
  async acquireLease(
    domain: string,
    model: string,
    version: number,
    workerId: string,
    ttlMs: number = TTL_DEFAULTS.lease * 1000,
  ): Promise<boolean> {
    if (!Number.isInteger(ttlMs) || ttlMs < 1)
      throw new RangeError(`lease ttl must be a positive integer of ms, got ${ttlMs}`);
    const key = this.keys.leases(domain, model, version);
    const had = await this.redis.eval(ACQUIRE, 1, key, workerId, String(ttlMs));
    return had === 1;
  }

  /**
   * Extends the lease; re-creates it if it had expired (the worker still has the model). Returns
   * whether it was still live, so a worker can log that it let a lease lapse.
   */
  refreshLease(
    domain: string,
    model: string,
    version: number,
    workerId: string,
    ttlMs: number = TTL_DEFAULTS.lease * 1000,
  ): Promise<boolean> {
    return this.acquireLease(domain, model, version, workerId, ttlMs);
  }

  /** Drops `workerId`'s lease. Returns whether it had one (live or expired). */
  async releaseLease(
    domain: string,
    model: string,
    version: number,
    workerId: string,
  ): Promise<boolean> {
    const removed = await this.redis.zrem(this.keys.leases(domain, model, version), workerId);
    return removed === 1;
  }

  /** Worker ids with a live lease on the version. */
  async holders(domain: string, model: string, version: number): Promise<string[]> {
    const live = await this.redis.eval(LIVE, 1, this.keys.leases(domain, model, version));
    return Array.isArray(live) ? live.map(String) : [];
  }

  /** Whether any worker holds a live lease on the version. */
  async isHeld(domain: string, model: string, version: number): Promise<boolean> {
    return (await this.holders(domain, model, version)).length > 0;
  }
}
