import { RedisKeys } from '@strata/cache-keys';
import { deleteRedisPrefix, testRedisPrefix, testRedisUrl, waitFor } from '@strata/testing';
import { Redis } from 'ioredis';
import { ModelLeases } from '../../src';

describe('ModelLeases (real Redis)', () => {
  const prefix = testRedisPrefix('leases');
  let redis: Redis;
  let leases: ModelLeases;

  beforeAll(() => {
    redis = new Redis(testRedisUrl(), { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    leases = new ModelLeases(redis, prefix);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('holds a version while any worker has a live lease', async () => {
    expect(await leases.isHeld('d', 'resnet', 1)).toBe(false);
    expect(await leases.acquireLease('d', 'resnet', 1, 'w1', 60_000)).toBe(false);
    expect(await leases.acquireLease('d', 'resnet', 1, 'w2', 60_000)).toBe(false);
    expect(await leases.refreshLease('d', 'resnet', 1, 'w1', 60_000)).toBe(true);
    expect((await leases.holders('d', 'resnet', 1)).sort()).toEqual(['w1', 'w2']);
    expect(await leases.isHeld('d', 'resnet', 2)).toBe(false);
    expect(await leases.releaseLease('d', 'resnet', 1, 'w1')).toBe(true);
    expect(await leases.isHeld('d', 'resnet', 1)).toBe(true);
    expect(await leases.releaseLease('d', 'resnet', 1, 'w2')).toBe(true);
    expect(await leases.isHeld('d', 'resnet', 1)).toBe(false);
    expect(await redis.exists(new RedisKeys(prefix).leases('d', 'resnet', 1))).toBe(0);
  });

  it('stores worker → expiry (ms) in the sorted set of RedisKeys.leases', async () => {
    await leases.acquireLease('d', 'yolo', 7, 'w1', 60_000);
    const key = new RedisKeys(prefix).leases('d', 'yolo', 7);
    const [serverSeconds] = await redis.time();
    const expiry = Number(await redis.zscore(key, 'w1'));
    expect(expiry).toBeGreaterThan(Number(serverSeconds) * 1000 + 50_000);
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
  });

  it('lets a lease that is not refreshed lapse, and refresh revives it', async () => {
    await leases.acquireLease('d', 'short', 1, 'w1', 100);
    await waitFor(async () => !(await leases.isHeld('d', 'short', 1)), {
      timeoutMs: 5000,
      intervalMs: 25,
      what: 'lease expiry',
    });
    expect(await leases.refreshLease('d', 'short', 1, 'w1', 60_000)).toBe(false);
    expect(await leases.isHeld('d', 'short', 1)).toBe(true);
  });

  it('refuses names that cannot be key segments', async () => {
    await expect(leases.acquireLease('d', '../etc', 1, 'w1')).rejects.toThrow(
      /cannot be part of a Redis key/,
    );
  });
});
