import {
  ReadinessService,
  RedisConnectionFactory,
  RedisModule,
  REDIS_CLIENT,
} from '@strata/service-kit';
import { serviceEnv, startRedisServer, waitFor, type RedisServer } from '@strata/testing';
import type { Redis } from 'ioredis';
import { startKitApp, type KitApp } from './kit-app.helper';

describe('RedisModule against a Redis that goes away', () => {
  let redis: RedisServer;
  let kit: KitApp;

  beforeAll(async () => {
    redis = await startRedisServer();
    kit = await startKitApp(await serviceEnv({ REDIS_URL: redis.url }), [RedisModule]);
  });

  afterAll(async () => {
    await kit?.app.close();
    await redis?.stop();
  });

  it('is ready while Redis answers', async () => {
    const readiness = kit.app.get(ReadinessService);
    const report = await waitFor(async () => {
      const r = await readiness.evaluate();
      return r.ok ? r : undefined;
    });
    expect(report.checks).toEqual({ redis: 'ok' });
  });

  it('fails the check (not hangs) while Redis is down, and heals once it is back', async () => {
    const readiness = kit.app.get(ReadinessService);
    await redis.stop();
    const down = await waitFor(async () => {
      const r = await readiness.evaluate();
      return r.ok ? undefined : r;
    });
    expect(down.failing).toEqual(['redis']);
    // Either ioredis already knows (its status), or the PING found the socket closed first.
    expect(down.checks.redis).toMatch(
      /^not connected \((reconnecting|connecting)\)|Stream isn't writeable/,
    );

    // A fail-fast command on the shared client rejects instead of queueing.
    const client = kit.app.get<Redis>(REDIS_CLIENT);
    await expect(client.get('x')).rejects.toThrow();

    await redis.restart();
    await waitFor(async () => (await readiness.evaluate()).ok, { timeoutMs: 20_000 });
    expect(kit.records.some((r) => String(r.msg).includes('connection restored'))).toBe(true);
  });

  it('closes every connection it made on shutdown', async () => {
    const factory = kit.app.get(RedisConnectionFactory);
    const extra = factory.create('producer', 'extra');
    await waitFor(() => extra.status === 'ready');
    const client = kit.app.get<Redis>(REDIS_CLIENT);
    await factory.closeAll();
    expect(client.status).toBe('end');
    expect(extra.status).toBe('end');
  });

  it('shuts down while Redis is down, without waiting for it', async () => {
    const factory = kit.app.get(RedisConnectionFactory);
    const worker = factory.create('worker', 'worker');
    const cache = factory.create('cache', 'late');
    await waitFor(() => worker.status === 'ready' && cache.status === 'ready');
    await redis.stop();
    await waitFor(() => worker.status !== 'ready' && cache.status !== 'ready');
    await kit.app.close();
    for (const c of [worker, cache]) {
      // No reconnect attempt is left pending.
      await new Promise((r) => setTimeout(r, 300));
      expect(c.status).not.toBe('ready');
      expect(c.status).not.toBe('connect');
    }
  });
});
