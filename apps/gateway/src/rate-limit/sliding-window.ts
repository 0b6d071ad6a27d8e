/**
 * The rate-limit algorithm: a sliding-window counter over two fixed windows.
 *
 * Time is cut into fixed windows of `windowMs` aligned on the epoch; each key counts its
 * admitted requests per window (one Redis bucket per window). A request at `elapsedMs` into
 * window w sees the estimate
 *
 *     current + previous × (windowMs − elapsedMs) / windowMs
 *
 * (the previous window's count weighted by how much of it the rolling window still covers) and
 * is admitted when the estimate plus itself stays within the limit. Chosen over an exact
 * sub-bucketed window because each request reads two counters instead of one per sub-bucket and
 * state stays O(1) per key; the price is that the previous window's requests are assumed spread
 * evenly over it, so right after a window turns the estimate can be a little above or below the
 * true count of the last `windowMs`. Within that model it is exact: everything is computed in
 * integers scaled by `windowMs` (no floating point), so with limit N and nothing in the previous
 * window request N is admitted and request N+1 refused, always. Refused requests are not
 * counted (a client retrying in a loop is not locked out for longer).
 *
 * The same functions decide in the Redis script's caller and in the in-memory fallback, so both
 * give the same answers for the same counts and clock.
 */

/** Counts of one key at one instant. */
export interface WindowCounts {
  /** Admitted requests in the current fixed window (before this request). */
  readonly current: number;
  /** Admitted requests in the previous fixed window. */
  readonly previous: number;
}

/** Where `nowMs` falls: the fixed window's index and how far into it. */
export interface WindowPosition {
  readonly window: number;
  readonly elapsedMs: number;
}

/** The answer to one request, with what the response headers report. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly windowSeconds: number;
  /** Further requests that would be admitted right now (after this one, if admitted). */
  readonly remaining: number;
  /**
   * Seconds the reported `remaining` holds for (RateLimit `t`): until a request would be
   * admitted again when nothing remains, else until the current fixed window ends.
   */
  readonly resetSeconds: number;
  /** When refused: whole seconds until a request would be admitted (Retry-After), ≥ 1. */
  readonly retryAfterSeconds?: number;
}

export function positionOf(nowMs: number, windowMs: number): WindowPosition {
  const window = Math.floor(nowMs / windowMs);
  return { window, elapsedMs: nowMs - window * windowMs };
}

/** The previous window's weight, scaled by windowMs: previous × (windowMs − elapsedMs). */
function carried(previous: number, windowMs: number, elapsedMs: number): number {
  return previous * (windowMs - elapsedMs);
}

/** Whether one more request fits: (current + 1) × W + carried ≤ limit × W. */
export function admits(
  counts: WindowCounts,
  limit: number,
  windowMs: number,
  elapsedMs: number,
): boolean {
  return (
    (counts.current + 1) * windowMs + carried(counts.previous, windowMs, elapsedMs) <=
    limit * windowMs
  );
}

/** Requests that would still be admitted now with these counts. */
export function remainingOf(
  counts: WindowCounts,
  limit: number,
  windowMs: number,
  elapsedMs: number,
): number {
  const free =
    limit * windowMs - counts.current * windowMs - carried(counts.previous, windowMs, elapsedMs);
  return free <= 0 ? 0 : Math.floor(free / windowMs);
}

/**
 * Milliseconds from now until one request would be admitted, if no other is admitted meanwhile:
 * later in this window (the previous window's weight decays), at the next window (this window's
 * count becomes the weighted one), or at the one after, when nothing is left to weigh.
 */
export function msUntilAdmitted(
  counts: WindowCounts,
  limit: number,
  windowMs: number,
  elapsedMs: number,
): number {
  if (admits(counts, limit, windowMs, elapsedMs)) return 0;
  const { current, previous } = counts;
  // In this window: need previous × (W − elapsed − d) ≤ (limit − current − 1) × W.
  if (current + 1 <= limit && previous > 0) {
    const coverable = Math.floor(((limit - current - 1) * windowMs) / previous);
    const d = windowMs - elapsedMs - coverable;
    if (d < windowMs - elapsedMs) return d;
  }
  // In the next window, at e' in: need W + current × (W − e') ≤ limit × W.
  const toNext = windowMs - elapsedMs;
  if (current === 0) return toNext;
  const coverable = Math.floor(((limit - 1) * windowMs) / current);
  const into = Math.max(0, windowMs - coverable);
  return toNext + Math.min(into, windowMs);
}

/**
 * The decision for a request, given the counts before it and whether it was admitted (the Redis
 * script decides atomically; the in-memory limiter calls `admits` itself).
 */
export function decisionFor(
  before: WindowCounts,
  allowed: boolean,
  limit: number,
  windowMs: number,
  elapsedMs: number,
): RateLimitDecision {
  const after = allowed ? { ...before, current: before.current + 1 } : before;
  const remaining = remainingOf(after, limit, windowMs, elapsedMs);
  const windowSeconds = Math.ceil(windowMs / 1000);
  if (!allowed) {
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil(msUntilAdmitted(after, limit, windowMs, elapsedMs) / 1000),
    );
    return {
      allowed,
      limit,
      windowSeconds,
      remaining: 0,
      resetSeconds: retryAfterSeconds,
      retryAfterSeconds,
    };
  }
  const resetMs =
    remaining === 0 ? msUntilAdmitted(after, limit, windowMs, elapsedMs) : windowMs - elapsedMs;
  return {
    allowed,
    limit,
    windowSeconds,
    remaining,
    resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)),
  };
}
