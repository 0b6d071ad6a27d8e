import { redisOptionsFor } from '@strata/service-kit';

describe('redisOptionsFor', () => {
  it('lets worker connections wait out outages (BullMQ requires it)', () => {
    const o = redisOptionsFor('worker', 'strata:worker');
    expect(o.maxRetriesPerRequest).toBeNull();
    expect(o.enableOfflineQueue).not.toBe(false);
    expect(o.connectionName).toBe('strata:worker');
  });

  it.each(['producer', 'cache'] as const)('makes %s connections fail fast', (role) => {
    const o = redisOptionsFor(role, role);
    expect(o.enableOfflineQueue).toBe(false);
    expect(o.maxRetriesPerRequest).toBeGreaterThanOrEqual(0);
    expect(o.maxRetriesPerRequest).toBeLessThanOrEqual(3);
    expect(o.connectTimeout).toBeLessThanOrEqual(5000);
  });

  it('auto-pipelines only the request-path cache connection (not BullMQ connections)', () => {
    expect(redisOptionsFor('cache', 'c').enableAutoPipelining).toBe(true);
    expect(redisOptionsFor('producer', 'p').enableAutoPipelining).toBeUndefined();
    expect(redisOptionsFor('worker', 'w').enableAutoPipelining).toBeUndefined();
  });

  it('reconnects forever with a capped backoff', () => {
    const retry = redisOptionsFor('cache', 'c').retryStrategy!;
    expect(retry(1)).toBeGreaterThan(0);
    expect(retry(10_000)).toBe(2000);
  });
});
