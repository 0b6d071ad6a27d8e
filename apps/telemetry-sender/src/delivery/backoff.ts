/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, base × 2^(failures−1))).
 * Full jitter spreads senders that failed together (AWS Architecture Blog, "Exponential Backoff
 * And Jitter").
 */
export function fullJitterDelay(
  failures: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 40));
  return Math.floor(random() * ceiling);
}
