import { fullJitterDelay } from '../../src/delivery/backoff';

describe('fullJitterDelay', () => {
  it('is 0 before any failure', () => {
    expect(fullJitterDelay(0, 100, 1000, () => 0.99)).toBe(0);
  });

  it('draws uniformly below base × 2^(failures−1)', () => {
    expect(fullJitterDelay(1, 100, 10_000, () => 0.999)).toBe(99);
    expect(fullJitterDelay(3, 100, 10_000, () => 0.5)).toBe(200);
    expect(fullJitterDelay(3, 100, 10_000, () => 0)).toBe(0);
  });

  it('never exceeds the cap, even after very many failures', () => {
    for (const failures of [8, 50, 1000]) {
      expect(fullJitterDelay(failures, 100, 5000, () => 0.999999)).toBeLessThan(5000);
    }
  });
});
