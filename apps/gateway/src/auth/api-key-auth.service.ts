import {
  hashSecret,
  isWellFormedSecret,
  type ApiKeyService,
  type VerifyResult,
} from '@strata/api-keys';
import type { Logger } from 'pino';
import type { CacheAnswer, CacheLevel, CacheMetrics, CacheResult } from '../metrics/cache.metrics';
import type { AuthCache } from './auth-cache';
import type { AuthRedisStore } from './auth-redis.store';

/**
 * A Postgres answer that took longer than this is not written to Redis: a revocation's
 * `revoked` entry (which such a write must find, see AuthRedisStore.add) lives far longer.
 */
const MAX_WRITE_DELAY_MS = 5_000;

export interface ApiKeyAuthOptions {
  /** The Redis level; without it, process memory then Postgres. */
  redis?: AuthRedisStore;
  metrics?: CacheMetrics;
  now?: () => number;
}

/**
 * Verifies API keys for requests: process memory (AuthCache), then Redis (AuthRedisStore),
 * then Postgres (through @strata/api-keys). A cached key is still checked against its expiry on
 * every use; `lastUsedAt` is written off the request path, at most once a minute per key.
 *
 * Redis failing (down, slow) is a miss at that level, never a failed request. When Postgres
 * fails as well, an expired process copy within the stale window answers (AuthCache.stale).
 * Revocations arrive as `key-revoked` events (registry-events.subscriber.ts) → `forget`.
 */
export class ApiKeyAuthService {
  private readonly redis?: AuthRedisStore;
  private readonly metrics?: CacheMetrics;
  private readonly now: () => number;

  constructor(
    private readonly keys: ApiKeyService,
    private readonly cache: AuthCache,
    private readonly logger: Logger,
    options: ApiKeyAuthOptions = {},
  ) {
    this.redis = options.redis?.enabled ? options.redis : undefined;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
  }

  async authenticate(secret: string): Promise<VerifyResult> {
    // Malformed secrets never reach the caches or the database.
    if (!isWellFormedSecret(secret)) return { ok: false, reason: 'malformed' };
    const started = performance.now();
    const hash = hashSecret(secret);
    let result = this.cache.get(hash);
    if (result) {
      this.count('process', 'hit');
      this.observe('process', started);
    } else {
      this.count('process', 'miss');
      result = await this.lookup(secret, hash, started);
    }
    if (result.ok) {
      const { expiresAt } = result.key;
      if (expiresAt && expiresAt.getTime() <= this.now()) return { ok: false, reason: 'expired' };
      const id = result.key.id;
      void this.keys.touch(id).catch((err: unknown) => {
        this.logger.debug({ err }, `lastUsedAt of key ${id} not written`);
      });
    }
    return result;
  }

  private async lookup(secret: string, hash: string, started: number): Promise<VerifyResult> {
    const mark = this.cache.mark();
    if (this.redis) {
      try {
        const found = await this.redis.get(hash);
        this.count('redis', found ? 'hit' : 'miss');
        if (found) {
          this.cache.set(hash, found, mark);
          this.observe('redis', started);
          return found;
        }
      } catch (err) {
        this.count('redis', 'error');
        this.logger.debug({ err }, 'auth cache: Redis lookup failed, asking Postgres');
      }
    }
    const asked = this.now();
    let result: VerifyResult;
    try {
      result = await this.keys.verify(secret);
    } catch (err) {
      const stale = this.cache.stale(hash);
      if (!stale) throw err;
      this.count('process', 'stale');
      this.logger.debug({ err }, 'auth cache: Postgres lookup failed, serving the stale copy');
      this.observe('process', started);
      return stale;
    }
    this.observe('source', started);
    this.cache.set(hash, result, mark);
    if (this.redis && this.now() - asked <= MAX_WRITE_DELAY_MS) {
      void this.redis.add(hash, result).catch((err: unknown) => {
        this.logger.debug({ err }, 'auth cache: Redis write failed');
      });
    }
    return result;
  }

  /** Drops the cached verification of a key (revoked here, or a `key-revoked` event). */
  forget(keyHash: string): void {
    this.cache.invalidate(keyHash);
  }

  /** Drops every cached verification (events may have been missed while Redis was away). */
  forgetAll(): void {
    this.cache.clear();
  }

  private count(level: CacheLevel, result: CacheResult): void {
    this.metrics?.count('auth', level, result);
  }

  private observe(answer: CacheAnswer, started: number): void {
    this.metrics?.observe('auth', answer, started);
  }
}
