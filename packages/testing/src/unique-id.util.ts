import { randomBytes } from 'node:crypto';

/**
 * A short id unique across test runs and workers: `label-<time36><random>`, lower case, usable in
 * Redis key segments, queue prefixes and (with `-` → `_`) Postgres identifiers.
 */
export function uniqueId(label = 'test'): string {
  const safe =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'test';
  return `${safe.slice(0, 24)}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A REDIS_KEY_PREFIX of its own for one test run. */
export function testRedisPrefix(label = 't'): string {
  return uniqueId(label);
}
