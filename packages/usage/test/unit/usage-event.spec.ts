import { checkUsageEvent } from '@strata/usage';
import { usageEvent } from '../support/usage-events';

describe('checkUsageEvent', () => {
  it('accepts a valid event and returns only the known fields', () => {
    const e = { ...usageEvent(), extra: 'x' };
    const check = checkUsageEvent(e);
    expect(check.ok).toBe(true);
    if (check.ok) {
      expect(check.event).not.toHaveProperty('extra');
      expect(check.event.model).toBe('resnet');
    }
  });

  it.each([
    ['not an object', 42],
    ['null', null],
    ['empty api key hash', { apiKeyHash: '' }],
    ['long workspace', { workspace: 'w'.repeat(201) }],
    ['negative version', { version: -1 }],
    ['fractional version', { version: 1.5 }],
    ['unknown category', { category: 'train' }],
    ['negative items', { items: -1 }],
    ['items beyond an int column', { items: 2 ** 31 }],
    ['NaN compute', { computeMs: Number.NaN }],
    ['cached not boolean', { cached: 'yes' }],
    ['unknown outcome', { outcome: 'maybe' }],
    ['finish before start', { startedAt: 10, finishedAt: 5 }],
  ])('rejects %s', (_label, patch) => {
    const input =
      typeof patch === 'object' && patch !== null ? { ...usageEvent(), ...patch } : patch;
    const check = checkUsageEvent(input);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.error).toEqual(expect.any(String));
  });
});
