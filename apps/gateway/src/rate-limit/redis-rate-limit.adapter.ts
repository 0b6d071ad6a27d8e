import type { RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';
import type { WindowCounts } from './sliding-window';

/**
 * One request against a key's two buckets, atomically: read the current and previous window's
 * counts, admit when (current + 1) × W + previous × (W − elapsed) ≤ limit × W (sliding-window.ts
 * `admits`, the same integer arithmetic: exact in Lua's doubles below 2^53, and limit × W stays
 * below 10^14), and only then INCR the current bucket. A bucket lives two windows (plus a
 * second), so it is still there while it is the previous window.
 *
 * KEYS: current bucket, previous bucket (same hash tag: one slot on Redis Cluster).
 * ARGV: limit, window ms, elapsed ms, bucket ttl ms.
 * Returns {admitted 0|1, current count (after), previous count}.
 */
export const RATE_LIMIT_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if (current + 1) * window + previous * (window - elapsed) <= limit * window then
  current = redis.call('INCR', KEYS[1])
  if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
  return {1, current, previous}
end
return {0, current, previous}
`;

const COMMAND = 'strataRateLimitHit';

type ScriptReply = [number, number, number];
type WithCommand = RedisClient & {
  [COMMAND](
    current: string,
    previous: string,
    limit: number,
    windowMs: number,
    elapsedMs: number,
    ttlMs: number,
  ): Promise<ScriptReply>;
};

export interface RedisHit {
  readonly allowed: boolean;
  /** Counts before the request (what the decision is computed from). */
  readonly before: WindowCounts;
  /** Counts after it (what the in-memory fallback adopts). */
  readonly after: WindowCounts;
}

/** The rate-limit buckets in Redis (`RedisKeys.rateLimit(keyHash, window)`). */
export class RedisRateLimitAdapter {
  private readonly client: WithCommand;

  constructor(
    client: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL after a restart flushed the script.
    if (!(COMMAND in client)) {
      client.defineCommand(COMMAND, { numberOfKeys: 2, lua: RATE_LIMIT_SCRIPT });
    }
    this.client = client as WithCommand;
  }

  /** Whether the connection is up now (the fail-fast client refuses commands otherwise). */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  async hit(
    keyHash: string,
    window: number,
    elapsedMs: number,
    limit: number,
    windowMs: number,
  ): Promise<RedisHit> {
    const [admitted, current, previous] = await this.client[COMMAND](
      this.keys.rateLimit(keyHash, window),
      this.keys.rateLimit(keyHash, window - 1),
      limit,
      windowMs,
      elapsedMs,
      2 * windowMs + 1000,
    );
    const allowed = admitted === 1;
    return {
      allowed,
      before: { current: allowed ? current - 1 : current, previous },
      after: { current, previous },
    };
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }
}
