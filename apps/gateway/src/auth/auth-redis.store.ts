import { decodeVerification, encodeVerification, type VerifyResult } from '@strata/api-keys';
import type { RedisKeys } from '@strata/cache-keys';
import { withTimeout } from '@strata/service-kit';
import type { Redis } from 'ioredis';

/** The commands used here; a standalone, Sentinel or Cluster client has them all. */
export type AuthRedis = Pick<Redis, 'get' | 'set'>;

export interface AuthRedisStoreOptions {
  /** AUTH_CACHE_TTL: lifetime of a positive entry and of a revoked/expired refusal; 0 = off. */
  ttlSeconds: number;
  /** Lifetime of an `unknown` refusal (a flood of made-up keys must not reach Postgres). */
  unknownTtlSeconds: number;
  /** Longest wait for one Redis call: past it the lookup goes on as after a miss. */
  timeoutMs: number;
}

/**
 * The Redis level of the auth cache: `RedisKeys.auth(sha256 of the secret)` → compact JSON
 * (@strata/api-keys `encodeVerification`). Errors are thrown; the caller treats them as misses.
 */
export class AuthRedisStore {
  constructor(
    private readonly redis: AuthRedis,
    private readonly keys: RedisKeys,
    private readonly options: AuthRedisStoreOptions,
  ) {}

  get enabled(): boolean {
    return this.options.ttlSeconds > 0;
  }

  async get(keyHash: string): Promise<VerifyResult | undefined> {
    const text = await withTimeout(this.redis.get(this.keys.auth(keyHash)), this.options.timeoutMs);
    return text === null ? undefined : decodeVerification(text, keyHash);
  }

  /**
   * Stores what Postgres said, only if the key holds nothing (SET NX): a revocation replaces the
   * entry with `revoked` instead of deleting it, so a lookup that read the key from Postgres
   * just before the revocation cannot write it back as valid after it.
   */
  async add(keyHash: string, result: VerifyResult): Promise<void> {
    const ttl =
      !result.ok && result.reason === 'unknown'
        ? Math.min(this.options.unknownTtlSeconds, this.options.ttlSeconds)
        : this.options.ttlSeconds;
    if (ttl <= 0) return;
    await withTimeout(
      this.redis.set(this.keys.auth(keyHash), encodeVerification(result), 'EX', ttl, 'NX'),
      this.options.timeoutMs,
    );
  }
}
