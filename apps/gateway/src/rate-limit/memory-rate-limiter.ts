import {
  admits,
  decisionFor,
  positionOf,
  type RateLimitDecision,
  type WindowCounts,
} from './sliding-window';

interface Entry {
  window: number;
  current: number;
  previous: number;
}

/** Keys tracked before stale ones are swept (then the oldest go). */
const DEFAULT_MAX_KEYS = 100_000;

/**
 * The sliding-window counter in process memory: what a gateway limits with while Redis is
 * unreachable (each gateway then allows the full limit on its own). The service also copies the
 * counts Redis returned into it, so a fallback starts from the shared count as last seen instead
 * of from zero.
 */
export class MemoryRateLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxKeys = DEFAULT_MAX_KEYS) {}

  get size(): number {
    return this.entries.size;
  }

  /** Counts one request against `limit` per `windowMs` at `nowMs`, if it fits. */
  hit(id: string, limit: number, windowMs: number, nowMs: number): RateLimitDecision {
    const { window, elapsedMs } = positionOf(nowMs, windowMs);
    const entry = this.entryAt(id, window);
    const before: WindowCounts = { current: entry.current, previous: entry.previous };
    const allowed = admits(before, limit, windowMs, elapsedMs);
    if (allowed) entry.current += 1;
    return decisionFor(before, allowed, limit, windowMs, elapsedMs);
  }

  /** Adopts counts read from Redis for `window` (after the request Redis just decided). */
  record(id: string, window: number, counts: WindowCounts): void {
    const entry = this.entryAt(id, window);
    if (entry.window !== window) return;
    entry.current = counts.current;
    entry.previous = counts.previous;
  }

  /** The entry of `id` rolled forward to `window`. */
  private entryAt(id: string, window: number): Entry {
    let entry = this.entries.get(id);
    if (!entry) {
      if (this.entries.size >= this.maxKeys) this.sweep(window);
      entry = { window, current: 0, previous: 0 };
      this.entries.set(id, entry);
      return entry;
    }
    if (entry.window === window) return entry;
    if (entry.window === window - 1) {
      entry.previous = entry.current;
    } else if (entry.window < window) {
      entry.previous = 0;
    } else {
      // The clock went back (or another gateway's clock is ahead): keep the newer counts.
      return entry;
    }
    entry.current = 0;
    entry.window = window;
    return entry;
  }

  /** Drops keys idle for two windows; if none were, the oldest inserted quarter. */
  private sweep(window: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.window < window - 1) this.entries.delete(id);
    }
    if (this.entries.size < this.maxKeys) return;
    let drop = Math.ceil(this.maxKeys / 4);
    for (const id of this.entries.keys()) {
      if (drop-- <= 0) break;
      this.entries.delete(id);
    }
  }
}
