import {
  InvalidApiKeyInputError,
  checkUsable,
  isKeyId,
  parseExpiry,
  parseScopes,
  validateKeyName,
  validateRateLimit,
  type VerifiedApiKey,
} from '@strata/api-keys';

const NOW = new Date('2026-01-01T00:00:00.000Z');

describe('validation', () => {
  it('parses scopes from lists and comma-separated strings, in a fixed order', () => {
    expect(parseScopes(['admin', 'infer', 'admin'])).toEqual(['infer', 'admin']);
    expect(parseScopes('admin, infer')).toEqual(['infer', 'admin']);
    expect(parseScopes('infer')).toEqual(['infer']);
    expect(() => parseScopes([])).toThrow(InvalidApiKeyInputError);
    expect(() => parseScopes('read')).toThrow(/unknown scope "read"/);
    expect(() => parseScopes(42)).toThrow(InvalidApiKeyInputError);
  });

  it('parses expiries as durations or ISO dates in the future', () => {
    expect(parseExpiry('90d', NOW).toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(parseExpiry('12h', NOW).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(parseExpiry('2w', NOW).toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(parseExpiry('2026-06-01T00:00:00Z', NOW).toISOString()).toBe('2026-06-01T00:00:00.000Z');
    expect(() => parseExpiry('2025-01-01T00:00:00Z', NOW)).toThrow(/not in the future/);
    expect(() => parseExpiry('soon', NOW)).toThrow(/neither an ISO date-time nor a duration/);
    expect(() => parseExpiry('2026-13-45', NOW)).toThrow(InvalidApiKeyInputError);
  });

  it('checks names, rate limits and ids', () => {
    expect(validateKeyName('ci pipeline')).toBe('ci pipeline');
    expect(() => validateKeyName('')).toThrow(InvalidApiKeyInputError);
    expect(() => validateKeyName(' padded')).toThrow(InvalidApiKeyInputError);
    expect(() => validateKeyName('a'.repeat(101))).toThrow(InvalidApiKeyInputError);
    expect(() => validateKeyName('line\nbreak')).toThrow(InvalidApiKeyInputError);
    expect(validateRateLimit(undefined)).toBeNull();
    expect(validateRateLimit(60)).toBe(60);
    expect(validateRateLimit(0)).toBe(0);
    expect(() => validateRateLimit(-1)).toThrow(InvalidApiKeyInputError);
    expect(() => validateRateLimit(1.5)).toThrow(InvalidApiKeyInputError);
    expect(isKeyId('0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60')).toBe(true);
    expect(isKeyId('../etc')).toBe(false);
  });

  it('refuses revoked before expired keys', () => {
    const key: VerifiedApiKey = {
      id: 'k',
      name: 'n',
      workspace: 'default',
      prefix: 'sk_x',
      scopes: ['infer'],
      keyHash: 'h',
      rateLimit: null,
      expiresAt: new Date(NOW.getTime() - 1),
    };
    expect(checkUsable(key, NOW, NOW)).toEqual({ ok: false, reason: 'revoked' });
    expect(checkUsable(key, null, NOW)).toEqual({ ok: false, reason: 'expired' });
    expect(checkUsable({ ...key, expiresAt: null }, null, NOW)).toEqual({
      ok: true,
      key: { ...key, expiresAt: null },
    });
  });
});
