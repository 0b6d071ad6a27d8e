/** Why a loaded model was dropped (the `reason` label of the evictions metric). */
export type EvictionReason = 'lru' | 'idle' | 'memory' | 'manual';

interface Entry {
  lastUsed: number;
  readonly pinned: boolean;
}

/**
 * Which loaded models to drop, and when. Pure bookkeeping (no timers, no I/O): the caller passes
 * the time, so tests drive it with their own clock.
 *
 * - Full (loaded + loading ≥ maxActive) before a new load: the `evictBatch` least recently used
 *   go at once, so a worker cycling through many models does not pay one eviction per load.
 * - Every use refreshes a model. Pinned models are never chosen.
 * - Idle: models unused for longer than the idle TTL.
 */
export class LruPolicy {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: { readonly maxActive: number; readonly evictBatch: number },
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  isPinned(key: string): boolean {
    return this.entries.get(key)?.pinned ?? false;
  }

  add(key: string, now: number, pinned = false): void {
    this.entries.set(key, { lastUsed: now, pinned });
  }

  touch(key: string, now: number): void {
    const entry = this.entries.get(key);
    if (entry && now > entry.lastUsed) entry.lastUsed = now;
  }

  remove(key: string): void {
    this.entries.delete(key);
  }

  lastUsed(key: string): number | undefined {
    return this.entries.get(key)?.lastUsed;
  }

  /** Unpinned keys, least recently used first. */
  leastRecentlyUsed(limit = Infinity): string[] {
    return [...this.entries]
      .filter(([, e]) => !e.pinned)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed)
      .slice(0, limit)
      .map(([k]) => k);
  }

  /**
   * What to evict before one more model loads, with `loading` others already on their way.
   * Nothing while there is room; the `evictBatch` least recently used once full. When every
   * loaded model is pinned nothing can go, and the pool grows past the limit.
   */
  victimsForAdmission(loading = 0): string[] {
    if (this.entries.size + loading < this.options.maxActive) return [];
    return this.leastRecentlyUsed(this.options.evictBatch);
  }

  /** Unpinned keys unused for longer than `ttlMs` (none when ttlMs is 0). */
  idle(now: number, ttlMs: number): string[] {
    if (ttlMs <= 0) return [];
    return [...this.entries]
      .filter(([, e]) => !e.pinned && now - e.lastUsed > ttlMs)
      .map(([k]) => k);
  }
}
