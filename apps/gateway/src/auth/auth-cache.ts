import type { VerifyResult } from '@strata/api-keys';

interface Entry {
  result: VerifyResult;
  expiresAt: number;
}

/**
 * The process level of the auth cache: verifications of API keys by the sha256 of the secret,
 * fresh for `ttlMs` (AUTH_LOCAL_CACHE_TTL_MS). Refusals are cached too (a flood of bad keys must
 * not reach Redis and Postgres each time); a new key cannot be among them, its secret was never
 * sent before. A revocation broadcast drops the key at once (`invalidate`).
 *
 * An expired entry is kept for `staleMs` more, to stand in when neither Redis nor Postgres can
 * answer (see `stale`). Bounded: the oldest entries go first.
 */
export class AuthCache {
  private readonly entries = new Map<string, Entry>();
  /** Moves on every invalidation; see `mark`. */
  private invalidations = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
    private readonly staleMs = 0,
  ) {}

  /** The verification while it is fresh. */
  get(keyHash: string): VerifyResult | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.expiresAt > now) return entry.result;
    if (entry.expiresAt + this.staleMs <= now) this.entries.delete(keyHash);
    return undefined;
  }

  /** An expired verification still within the stale window (only for when lookups fail). */
  stale(keyHash: string): VerifyResult | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry || entry.expiresAt + this.staleMs <= this.now()) return undefined;
    return entry.result;
  }

  /**
   * Taken before a lookup asks Redis or Postgres, handed back to `set`: a revocation broadcast
   * that arrives while the lookup is under way must not be undone by the lookup storing what it
   * read before. Revocations are rare, so one counter for all keys costs nothing noticeable.
   */
  mark(): number {
    return this.invalidations;
  }

  /** Keeps a verification; with a `mark`, only if nothing was invalidated since. */
  set(keyHash: string, result: VerifyResult, mark?: number): void {
    if (this.ttlMs <= 0) return;
    if (mark !== undefined && mark !== this.invalidations) return;
    this.entries.delete(keyHash);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(keyHash, { result, expiresAt: this.now() + this.ttlMs });
  }

  /** Drops one key, stale copy included (revoked): the next request asks Redis, then Postgres. */
  invalidate(keyHash: string): void {
    this.invalidations++;
    this.entries.delete(keyHash);
  }

  clear(): void {
    this.invalidations++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
