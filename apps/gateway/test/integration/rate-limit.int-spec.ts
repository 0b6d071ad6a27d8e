// The rate limiter against real Redis: the Lua script, two limiters sharing buckets, the
// in-memory fallback while a private redis-server is stopped or paused, and its way back.
import { RedisKeys } from '@strata/cache-keys';
import { redisOptionsFor, type RedisClient } from '@strata/service-kit';
import {
  deleteRedisPrefix,
  startRedisServer,
  testRedisClient,
  testRedisPrefix,
  waitFor,
  type RedisServer,
} from '@strata/testing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { MemoryRateLimiter } from '../../src/rate-limit/memory-rate-limiter';
import { RedisRateLimitAdapter } from '../../src/rate-limit/redis-rate-limit.adapter';
import { RateLimitService, type RateLimitSettings } from '../../src/rate-limit/rate-limit.service';
import { positionOf } from '../../src/rate-limit/sliding-window';

const MINUTE = 60_000;
// A window boundary (a multiple of a minute since the epoch).
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const SETTINGS: RateLimitSettings = {
  defaultLimit: 0,
  windowMs: MINUTE,
  redisTimeoutMs: 500,
  probeIntervalMs: 1000,
};
const logger = pino({ level: 'silent' });

class Clock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
}

function limiter(client: RedisClient, keys: RedisKeys, clock: Clock): RateLimitService {
  return new RateLimitService({
    redis: new RedisRateLimitAdapter(client, keys),
    settings: SETTINGS,
    logger,
    now: clock.now,
  });
}

describe('rate limits on shared Redis (injected clock)', () => {
  const prefix = testRedisPrefix('rl');
  const keys = new RedisKeys(prefix);
  let a: RedisClient;
  let b: RedisClient;

  beforeAll(async () => {
    a = testRedisClient();
    b = testRedisClient();
    // Before it is connected a limiter decides in memory (covered below).
    await waitFor(() => a.status === 'ready' && b.status === 'ready', { what: 'clients ready' });
  });

  afterAll(async () => {
    a?.disconnect();
    b?.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('admits exactly N, refuses N+1 with the right remaining, t and Retry-After', async () => {
    const clock = new Clock(T0 + 20_000);
    const rl = limiter(a, keys, clock);
    for (let i = 1; i <= 5; i++) {
      const d = await rl.hit('exact', 5);
      expect([i, d.allowed, d.remaining, d.resetSeconds]).toEqual([
        i,
        true,
        5 - i,
        // 40 s left in the window while something remains; the 5th: when one fits again.
        i < 5 ? 40 : 52,
      ]);
    }
    const refused = await rl.hit('exact', 5);
    expect(refused).toEqual({
      allowed: false,
      limit: 5,
      windowSeconds: 60,
      remaining: 0,
      resetSeconds: 52,
      retryAfterSeconds: 52,
    });
    expect(rl.inMemory).toBe(false);
    // Refusals are not counted in the bucket.
    const bucket = keys.rateLimit('exact', positionOf(clock.ms, MINUTE).window);
    expect(await a.get(bucket)).toBe('5');
    const ttl = await a.pttl(bucket);
    expect(ttl).toBeGreaterThan(MINUTE);
    expect(ttl).toBeLessThanOrEqual(2 * MINUTE + 1000);

    // Retry-After is exact: a second before it still refused, at it admitted.
    clock.ms += 51_000;
    expect((await rl.hit('exact', 5)).allowed).toBe(false);
    clock.ms += 1000;
    expect((await rl.hit('exact', 5)).allowed).toBe(true);
  });

  it('rolls over: the previous bucket decays, two windows later it is all free', async () => {
    const clock = new Clock(T0 + 50_000);
    const rl = limiter(a, keys, clock);
    for (let i = 0; i < 4; i++) expect((await rl.hit('roll', 4)).allowed).toBe(true);
    expect((await rl.hit('roll', 4)).allowed).toBe(false);
    clock.ms = T0 + MINUTE + 15_000; // 3 carried of 4
    expect(await rl.hit('roll', 4)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await rl.hit('roll', 4)).allowed).toBe(false);
    clock.ms = T0 + MINUTE + 30_000; // 2 carried + 1
    expect(await rl.hit('roll', 4)).toMatchObject({ allowed: true, remaining: 0 });
    clock.ms = T0 + 3 * MINUTE;
    expect(await rl.hit('roll', 4)).toMatchObject({ allowed: true, remaining: 3 });
  });

  it('two limiters (two connections) share one budget', async () => {
    const clock = new Clock(T0 + 5_000);
    const one = limiter(a, keys, clock);
    const two = limiter(b, keys, clock);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? one : two).hit('shared', 10)),
    );
    expect(results.filter((d) => d.allowed)).toHaveLength(10);
    expect(results.filter((d) => !d.allowed)).toHaveLength(20);
    expect([one.inMemory, two.inMemory]).toEqual([false, false]);
    // Every admitted request saw a different remaining: 9 … 0, each once.
    expect(
      results
        .filter((d) => d.allowed)
        .map((d) => d.remaining)
        .sort((x, y) => x - y),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('the Lua script decides as the in-memory limiter does, request by request', async () => {
    const clock = new Clock(T0);
    const rl = limiter(a, keys, clock);
    const memory = new MemoryRateLimiter();
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let compared = 0;
    for (let i = 0; i < 400; i++) {
      clock.ms += Math.floor(random() * 1500);
      const key = `agree${Math.floor(random() * 3)}`;
      const fromRedis = await rl.hit(key, 7);
      const fromMemory = memory.hit(key, 7, MINUTE, clock.ms);
      expect([i, fromRedis]).toEqual([i, fromMemory]);
      compared++;
    }
    expect(compared).toBe(400);
    expect(rl.inMemory).toBe(false);
  });
});

describe('rate limits while Redis is unreachable (private redis-server)', () => {
  let server: RedisServer;
  let client: Redis;
  let admin: Redis;
  const keys = new RedisKeys(testRedisPrefix('rlx'));

  beforeAll(async () => {
    server = await startRedisServer();
    // The gateway's own request-path options: fail fast, reconnect forever.
    client = new Redis(server.url, redisOptionsFor('cache', 'rate-limit-test'));
    client.on('error', () => undefined);
    await waitFor(() => client.status === 'ready', { what: 'client connected' });
  });

  afterAll(async () => {
    admin?.disconnect();
    client?.disconnect();
    await server?.stop();
  });

  it('limits in memory from the last counts Redis gave, then goes back to Redis', async () => {
    const clock = new Clock(T0 + 1000);
    const rl = limiter(client, keys, clock);
    for (let i = 0; i < 3; i++) expect((await rl.hit('down', 5)).allowed).toBe(true);
    expect(rl.inMemory).toBe(false);

    await server.stop();
    await waitFor(() => client.status !== 'ready', { what: 'client sees Redis gone' });
    // The budget continues in memory: 2 more of 5, then 429.
    expect(await rl.hit('down', 5)).toMatchObject({ allowed: true, remaining: 1 });
    expect(rl.inMemory).toBe(true);
    expect(await rl.hit('down', 5)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await rl.hit('down', 5)).toMatchObject({ allowed: false, retryAfterSeconds: 71 });
    // Another key is limited in memory on its own.
    expect((await rl.hit('other', 1)).allowed).toBe(true);
    expect((await rl.hit('other', 1)).allowed).toBe(false);

    await server.restart(); // empty: no persistence
    await waitFor(() => client.status === 'ready', { what: 'client reconnected' });
    // Each request while degraded may start one PING per probe interval; one that answers ends it.
    await waitFor(
      async () => {
        clock.ms += SETTINGS.probeIntervalMs;
        await rl.hit('probe', 1000);
        return !rl.inMemory;
      },
      { what: 'limiter back on Redis' },
    );
    const back = await rl.hit('fresh', 2);
    expect(back).toMatchObject({ allowed: true, remaining: 1 });
    const bucket = keys.rateLimit('fresh', positionOf(clock.ms, MINUTE).window);
    admin = new Redis(server.url);
    expect(await admin.get(bucket)).toBe('1');
  });

  it('a Redis that does not answer in time counts as down (CLIENT PAUSE)', async () => {
    await waitFor(() => client.status === 'ready', { what: 'client connected' });
    const clock = new Clock(T0 + 10 * MINUTE);
    const rl = limiter(client, keys, clock);
    expect((await rl.hit('paused', 3)).allowed).toBe(true);
    admin ??= new Redis(server.url);
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    // Decided in memory after the timeout, from the count Redis gave before.
    expect(await rl.hit('paused', 3)).toMatchObject({ allowed: true, remaining: 1 });
    expect(rl.inMemory).toBe(true);
    await waitFor(
      async () => {
        clock.ms += SETTINGS.probeIntervalMs;
        await rl.hit('probe', 1000);
        return !rl.inMemory;
      },
      { what: 'limiter back on Redis after the pause' },
    );
  });
});
