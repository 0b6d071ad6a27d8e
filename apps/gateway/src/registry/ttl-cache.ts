interface Entry<V> {
  value: Promise<V>;
  expiresAt: number;
  /** The value of the last load that succeeded, and until when it may stand in for a failed one. */
  last?: { value: V; staleUntil: number };
}

export interface TtlCacheOptions {
  /** How long an expired value may still answer when reloading it fails (default 0: never). */
  staleMs?: number;
  /** Which load failures an expired value may cover (default: every one). */
  canServeStale?: (error: unknown) => boolean;
  /** After serving a stale value, how long before the source is asked again (default 1 s). */
  retryMs?: number;
}

/** How `get` found its value: in memory (`hit`), by calling `load` (`miss`), or `stale`. */
export type TtlCacheOutcome = 'hit' | 'miss' | 'stale';

/**
 * Promises kept for a TTL, bounded in size (oldest out first). Concurrent lookups of one key
 * share one load; a failed load is not kept. A load in flight when its key is deleted is not
 * stored when it completes (the entry it would land in is gone), so an invalidation that arrives
 * mid-load is never undone.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly staleMs: number;
  private readonly canServeStale: (error: unknown) => boolean;
  private readonly retryMs: number;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
    options: TtlCacheOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 0;
    this.canServeStale = options.canServeStale ?? (() => true);
    this.retryMs = options.retryMs ?? 1000;
  }

  get(key: string, load: () => Promise<V>, outcome?: (how: TtlCacheOutcome) => void): Promise<V> {
    const now = this.now();
    const found = this.entries.get(key);
    if (found && found.expiresAt > now) {
      outcome?.('hit');
      return found.value;
    }
    if (this.ttlMs <= 0) {
      outcome?.('miss');
      return load();
    }
    const previous = found?.last && found.last.staleUntil > now ? found.last : undefined;
    if (found) this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    const entry: Entry<V> = {
      value: undefined as unknown as Promise<V>,
      expiresAt: now + this.ttlMs,
    };
    outcome?.('miss');
    entry.value = load().then(
      (value) => {
        entry.last = { value, staleUntil: this.now() + this.ttlMs + this.staleMs };
        return value;
      },
      (error: unknown) => {
        // Not after an invalidation (the entry is gone then): stale means outdated by then.
        const current = this.entries.get(key) === entry;
        if (previous && current && this.canServeStale(error)) {
          // Keep answering with the stale value for a moment instead of asking a failing
          // source on every request.
          entry.expiresAt = this.now() + this.retryMs;
          entry.last = previous;
          outcome?.('stale');
          return previous.value;
        }
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw error;
      },
    );
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Drops every key for which `match` says yes (stale copies too). */
  deleteWhere(match: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (match(key)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
