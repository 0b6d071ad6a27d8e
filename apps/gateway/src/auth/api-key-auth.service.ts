import {
  hashSecret,
  isWellFormedSecret,
  type ApiKeyService,
  type VerifyResult,
} from '@strata/api-keys';
import type { Logger } from 'pino';
import type { AuthCache } from './auth-cache';

/**
 * Verifies API keys for requests: the in-process cache first, then Postgres (through
 * @strata/api-keys). A cached key is still checked against its expiry on every use; `lastUsedAt`
 * is written off the request path, at most once a minute per key.
 */
export class ApiKeyAuthService {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly cache: AuthCache,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(secret: string): Promise<VerifyResult> {
    // Malformed secrets never reach the cache or the database.
    if (!isWellFormedSecret(secret)) return { ok: false, reason: 'malformed' };
    const hash = hashSecret(secret);
    let result = this.cache.get(hash);
    if (!result) {
      result = await this.keys.verify(secret);
      this.cache.set(hash, result);
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

  /** Drops the cached verification of a key (after revoking it here). */
  forget(keyHash: string): void {
    this.cache.invalidate(keyHash);
  }
}
