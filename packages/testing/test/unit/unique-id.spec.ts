import { RedisKeys } from '@strata/cache-keys';
import { testRedisPrefix, uniqueId } from '@strata/testing';

describe('uniqueId', () => {
  it('is unique, lower case and starts with the label', () => {
    const ids = new Set(Array.from({ length: 200 }, () => uniqueId('My Label!')));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^my-label-[a-z0-9]+$/);
  });

  it('gives prefixes Redis keys accept', () => {
    expect(() => new RedisKeys(testRedisPrefix())).not.toThrow();
  });
});
