import {
  cacheControlBypasses,
  parseUseCache,
  requestAllowsCache,
} from '../../src/cache/cache-policy';

describe('cache policy', () => {
  it('reads use_cache from JSON booleans and query words', () => {
    expect(parseUseCache(undefined, 'use_cache')).toBeUndefined();
    expect(parseUseCache(false, 'use_cache')).toBe(false);
    expect(parseUseCache(true, 'use_cache')).toBe(true);
    for (const w of ['false', 'FALSE', '0', 'no', 'off']) expect(parseUseCache(w, 'q')).toBe(false);
    for (const w of ['true', '1', 'yes', 'on']) expect(parseUseCache(w, 'q')).toBe(true);
    expect(() => parseUseCache('maybe', 'use_cache')).toThrow(/use_cache must be true or false/);
    expect(() => parseUseCache(0, 'use_cache')).toThrow(/must be true or false/);
  });

  it('bypasses on Cache-Control no-cache or no-store only', () => {
    expect(cacheControlBypasses(undefined)).toBe(false);
    expect(cacheControlBypasses('max-age=60')).toBe(false);
    expect(cacheControlBypasses('no-cache')).toBe(true);
    expect(cacheControlBypasses('max-age=0, No-Store')).toBe(true);
    expect(cacheControlBypasses(['public', 'no-cache="x"'])).toBe(true);
  });

  it('allows the cache unless one source says no', () => {
    expect(requestAllowsCache({})).toBe(true);
    expect(requestAllowsCache({ query: 'true', body: true })).toBe(true);
    expect(requestAllowsCache({ query: 'false' })).toBe(false);
    expect(requestAllowsCache({ body: false })).toBe(false);
    expect(requestAllowsCache({ cacheControl: 'no-cache' })).toBe(false);
  });
});
