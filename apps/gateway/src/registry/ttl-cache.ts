interface Entry<V> {
  value: Promise<V>;
  expiresAt: number;
}

/**
 * Promises kept for a TTL, bounded in size (oldest out first). Concurrent lookups of one key
 * share one load; a failed load is not kept.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const found = this.entries.get(key);
    if (found && found.expiresAt > this.now()) return found.value;
    if (found) this.entries.delete(key);
    const value = load();
    if (this.ttlMs <= 0) return value;
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    const entry = { value, expiresAt: this.now() + this.ttlMs };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }

  /** Drops every key for which `match` says yes. */
  deleteWhere(match: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (match(key)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
