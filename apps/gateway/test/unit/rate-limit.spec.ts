import { MemoryRateLimiter } from '../../src/rate-limit/memory-rate-limiter';
import { rateLimitHeaders } from '../../src/rate-limit/rate-limit-headers';
import { effectiveLimit } from '../../src/rate-limit/rate-limit.service';
import {
  admits,
  decisionFor,
  msUntilAdmitted,
  positionOf,
  remainingOf,
  type WindowCounts,
} from '../../src/rate-limit/sliding-window';

const MINUTE = 60_000;
// A window boundary: 2026-11-22T19:00:00Z is a multiple of a minute since the epoch.
const T0 = Date.UTC(2026, 10, 22, 19, 0, 0);

/** Whether one request is admitted at `t` ms after `elapsed` with counts rolling, none added. */
function admittedAfter(
  counts: WindowCounts,
  limit: number,
  windowMs: number,
  elapsed: number,
  d: number,
): boolean {
  const at = elapsed + d;
  const shift = Math.floor(at / windowMs);
  const e = at - shift * windowMs;
  const rolled =
    shift === 0
      ? counts
      : shift === 1
        ? { current: 0, previous: counts.current }
        : { current: 0, previous: 0 };
  return admits(rolled, limit, windowMs, e);
}

describe('sliding-window math', () => {
  it('places an instant in its fixed window', () => {
    expect(positionOf(T0, MINUTE)).toEqual({ window: T0 / MINUTE, elapsedMs: 0 });
    expect(positionOf(T0 + 59_999, MINUTE)).toEqual({ window: T0 / MINUTE, elapsedMs: 59_999 });
    expect(positionOf(T0 + 60_000, MINUTE)).toEqual({ window: T0 / MINUTE + 1, elapsedMs: 0 });
  });

  it('weights the previous window by the part the rolling window still covers', () => {
    // 10 in the previous window, a quarter into this one: 7.5 carried, 2 counted → 9.5 used.
    const counts = { current: 2, previous: 10 };
    expect(remainingOf(counts, 10, MINUTE, 15_000)).toBe(0);
    expect(admits(counts, 10, MINUTE, 15_000)).toBe(false);
    // Halfway: 5 carried + 2 → 3 left; the 3rd fits, a 4th would not.
    expect(remainingOf(counts, 10, MINUTE, 30_000)).toBe(3);
    expect(admits({ current: 4, previous: 10 }, 10, MINUTE, 30_000)).toBe(true);
    expect(admits({ current: 5, previous: 10 }, 10, MINUTE, 30_000)).toBe(false);
    // Exactly at the point where the carried weight allows one more: integer arithmetic, no drift.
    expect(admits({ current: 0, previous: 3 }, 3, 3, 1)).toBe(true); // 1×3 + 3×2 = 9 ≤ 9
    expect(admits({ current: 0, previous: 3 }, 3, 3, 0)).toBe(false); // 3 + 9 = 12 > 9
  });

  it('finds the first instant a refused request would be admitted (checked by brute force)', () => {
    const windowMs = 50;
    let checked = 0;
    for (const limit of [1, 2, 3, 7]) {
      for (let current = 0; current <= limit; current++) {
        for (let previous = 0; previous <= limit + 2; previous++) {
          for (let elapsed = 0; elapsed < windowMs; elapsed += 7) {
            const counts = { current, previous };
            const d = msUntilAdmitted(counts, limit, windowMs, elapsed);
            let first = 0;
            while (!admittedAfter(counts, limit, windowMs, elapsed, first)) first++;
            expect([limit, current, previous, elapsed, d]).toEqual([
              limit,
              current,
              previous,
              elapsed,
              first,
            ]);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('reports Retry-After and t as whole seconds rounded up, at least 1', () => {
    // Limit 5, all used in this window, 20 s in: next window in 40 s, then 5×(W−e') ≤ 4×W → e' ≥ 12 s.
    const refused = decisionFor({ current: 5, previous: 0 }, false, 5, MINUTE, 20_000);
    expect(refused).toEqual({
      allowed: false,
      limit: 5,
      windowSeconds: 60,
      remaining: 0,
      resetSeconds: 52,
      retryAfterSeconds: 52,
    });
    const allowed = decisionFor({ current: 1, previous: 0 }, true, 5, MINUTE, 20_500);
    expect(allowed).toMatchObject({ allowed: true, remaining: 3, resetSeconds: 40 });
    expect(allowed.retryAfterSeconds).toBeUndefined();
    const last = decisionFor({ current: 0, previous: 1 }, false, 1, MINUTE, 59_999);
    expect(last).toMatchObject({ retryAfterSeconds: 1, resetSeconds: 1 });
  });
});

describe('MemoryRateLimiter (injected clock)', () => {
  it('is exact at the boundary: request N admitted, N+1 refused, every time', () => {
    for (const limit of [1, 2, 10, 1000]) {
      const limiter = new MemoryRateLimiter();
      for (let i = 1; i <= limit; i++) {
        const d = limiter.hit('k', limit, MINUTE, T0 + 10_000);
        expect([i, d.allowed, d.remaining]).toEqual([i, true, limit - i]);
      }
      const over = limiter.hit('k', limit, MINUTE, T0 + 10_000);
      expect(over.allowed).toBe(false);
      expect(over.remaining).toBe(0);
      // Refusals are not counted: another attempt is refused the same way.
      expect(limiter.hit('k', limit, MINUTE, T0 + 10_000)).toEqual(over);
    }
  });

  it('keys are independent', () => {
    const limiter = new MemoryRateLimiter();
    expect(limiter.hit('a', 1, MINUTE, T0).allowed).toBe(true);
    expect(limiter.hit('a', 1, MINUTE, T0).allowed).toBe(false);
    expect(limiter.hit('b', 1, MINUTE, T0).allowed).toBe(true);
  });

  it('rolls over: the previous window decays, two windows later everything is free', () => {
    const limiter = new MemoryRateLimiter();
    for (let i = 0; i < 4; i++) expect(limiter.hit('k', 4, MINUTE, T0 + 50_000).allowed).toBe(true);
    expect(limiter.hit('k', 4, MINUTE, T0 + 59_999).allowed).toBe(false);
    // Next window, 15 s in: 4 × 3/4 = 3 carried → exactly one fits.
    const one = limiter.hit('k', 4, MINUTE, T0 + 75_000);
    expect(one).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.hit('k', 4, MINUTE, T0 + 75_000).allowed).toBe(false);
    // Halfway: 2 carried + 1 counted → one more.
    expect(limiter.hit('k', 4, MINUTE, T0 + 90_000)).toMatchObject({ allowed: true, remaining: 0 });
    // The window after next: nothing counted or carried.
    expect(limiter.hit('k', 4, MINUTE, T0 + 180_000)).toMatchObject({
      allowed: true,
      remaining: 3,
    });
  });

  it('the Retry-After it gives is when a request is admitted again, not a second earlier', () => {
    const limiter = new MemoryRateLimiter();
    const start = T0 + 20_000;
    for (let i = 0; i < 5; i++) limiter.hit('k', 5, MINUTE, start);
    const refused = limiter.hit('k', 5, MINUTE, start);
    expect(refused.retryAfterSeconds).toBe(52);
    const retryAt = start + refused.retryAfterSeconds! * 1000;
    expect(limiter.hit('k', 5, MINUTE, retryAt - 1000).allowed).toBe(false);
    expect(limiter.hit('k', 5, MINUTE, retryAt).allowed).toBe(true);
  });

  it('adopts counts recorded from Redis', () => {
    const limiter = new MemoryRateLimiter();
    const { window } = positionOf(T0 + 5_000, MINUTE);
    limiter.record('k', window, { current: 3, previous: 0 });
    expect(limiter.hit('k', 4, MINUTE, T0 + 5_000)).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.hit('k', 4, MINUTE, T0 + 5_000).allowed).toBe(false);
  });

  it('stays bounded: idle keys are swept, then the oldest', () => {
    const limiter = new MemoryRateLimiter(100);
    for (let i = 0; i < 100; i++) limiter.hit(`old${i}`, 5, MINUTE, T0);
    limiter.hit('new', 5, MINUTE, T0 + 3 * MINUTE);
    expect(limiter.size).toBe(1);
    for (let i = 0; i < 150; i++) limiter.hit(`k${i}`, 5, MINUTE, T0 + 3 * MINUTE);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});

describe('limits and headers', () => {
  it("uses the key's own limit, else the default; 0 means unlimited", () => {
    expect(effectiveLimit(null, 100)).toBe(100);
    expect(effectiveLimit(undefined, 100)).toBe(100);
    expect(effectiveLimit(5, 100)).toBe(5);
    expect(effectiveLimit(0, 100)).toBeUndefined();
    expect(effectiveLimit(null, 0)).toBeUndefined();
    expect(effectiveLimit(7, 0)).toBe(7);
  });

  it('writes the draft-11 RateLimit and RateLimit-Policy fields', () => {
    expect(
      rateLimitHeaders({
        allowed: true,
        limit: 100,
        windowSeconds: 60,
        remaining: 42,
        resetSeconds: 17,
      }),
    ).toEqual({
      'ratelimit-policy': '"api-key";q=100;w=60',
      ratelimit: '"api-key";r=42;t=17',
    });
  });
});
