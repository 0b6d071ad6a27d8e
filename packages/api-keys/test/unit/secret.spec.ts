import {
  DISPLAY_PREFIX_LENGTH,
  displayPrefix,
  generateSecret,
  hashSecret,
  isWellFormedSecret,
} from '@strata/api-keys';
import { createHash } from 'node:crypto';

describe('secrets', () => {
  it('are sk_ + 32 base62 characters, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = generateSecret();
      expect(s).toMatch(/^sk_[0-9A-Za-z]{32}$/);
      expect(isWellFormedSecret(s)).toBe(true);
      seen.add(s);
    }
    expect(seen.size).toBe(200);
  });

  it('skip bytes that would bias the alphabet', () => {
    // 248..255 are rejected; 0 → '0', 61 → 'z', 62 → '0' again.
    let calls = 0;
    const s = generateSecret((size) => {
      calls += 1;
      return Buffer.from(Array.from({ length: size }, (_, i) => (i % 2 === 0 ? 255 : 61)));
    });
    expect(s).toBe(`sk_${'z'.repeat(32)}`);
    expect(calls).toBeGreaterThan(1);
  });

  it('use every character of the alphabet about equally', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      for (const c of generateSecret().slice(3)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (2000 * 32) / 62;
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(expected * 0.75);
      expect(n).toBeLessThan(expected * 1.25);
    }
  });

  it('are stored as their sha256 and shown by a short prefix', () => {
    const s = generateSecret();
    expect(hashSecret(s)).toBe(createHash('sha256').update(s).digest('hex'));
    expect(hashSecret(s)).toMatch(/^[0-9a-f]{64}$/);
    expect(displayPrefix(s)).toBe(s.slice(0, DISPLAY_PREFIX_LENGTH));
    expect(displayPrefix(s).length).toBeLessThanOrEqual(16);
  });

  it('refuse other forms', () => {
    for (const bad of [
      '',
      'sk_',
      'sk_short',
      `pk_${'a'.repeat(32)}`,
      `sk_${'a'.repeat(33)}`,
      `sk_${'-'.repeat(32)}`,
    ]) {
      expect(isWellFormedSecret(bad)).toBe(false);
    }
  });
});
