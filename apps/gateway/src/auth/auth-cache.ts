import type { VerifyResult } from '@strata/api-keys';

interface Entry {
  result: VerifyResult;
  expiresAt: number;
}

/**
 * Verifications of API keys kept in process memory for a short TTL, by the sha256 of the
 * secret. Refusals are cached too (a flood of bad keys must not reach Postgres each time);
 * a new key cannot be among them, its secret was never sent before. Bounded: the oldest
 * entries go first. This is the one place to change when the cache moves to Redis with
 * revocation broadcasts.
 */
export class AuthCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(keyHash: string): VerifyResult | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return entry.result;
  }

  set(keyHash: string, result: VerifyResult): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(keyHash);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(keyHash, { result, expiresAt: this.now() + this.ttlMs });
  }

  /** Drops one key (revoked through this gateway): the next request asks Postgres. */
  invalidate(keyHash: string): void {
    this.entries.delete(keyHash);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
