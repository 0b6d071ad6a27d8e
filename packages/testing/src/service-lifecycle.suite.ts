import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { httpGet } from './http.util';
import { startRedisServer, type RedisServer } from './redis-server.fixture';
import { serviceEnv, type ServiceEnv } from './service-env.factory';
import { portVariable, spawnService, type SpawnedService } from './service-process.fixture';
import { createTestDatabase, type TestDatabase } from './test-database.fixture';
import { waitFor } from './wait-for.util';

export interface LifecycleExpectations {
  /** Names /readyz reports, e.g. `['redis', 'postgres']`. `postgres` gets a test database. */
  readonly checks: readonly string[];
  /**
   * MODEL_CACHE_DIR: `created` — absent before boot, the service creates it (model-loader);
   * `required` — created by the test first, the service only reads it (inference-worker).
   */
  readonly cacheDir?: 'created' | 'required';
}

// Bounds on single HTTP calls, so that a hanging endpoint fails the test instead of stalling it.
// Readiness checks time out after 2 s in service-kit; a /readyz answer must come well before 5 s.
const READYZ_BOUND_MS = 5000;
const BOOT_BOUND_MS = 60_000;

interface ReadyBody {
  status: string;
  checks?: Record<string, string>;
  failing?: string[];
  reason?: string;
}

/**
 * The lifecycle every service must honour, run against its built `dist/main.js`: health,
 * readiness with its checks, metrics labelled with the service, readiness following its own
 * Redis down and back up, exit 0 on SIGTERM, exit 1 naming every bad variable of a bad config.
 */
export function describeServiceLifecycle(service: string, expected: LifecycleExpectations): void {
  describe(`${service} lifecycle (built dist/main.js)`, () => {
    let redis: RedisServer;
    let db: TestDatabase | undefined;
    let tmp: string;
    let env: ServiceEnv;
    let svc: SpawnedService | undefined;
    let cacheDir: string;

    beforeAll(async () => {
      tmp = await mkdtemp(path.join(tmpdir(), `strata-${service}-`));
      cacheDir = path.join(tmp, 'model-cache');
      if (expected.cacheDir === 'required') await mkdir(cacheDir);
      redis = await startRedisServer();
      if (expected.checks.includes('postgres')) db = await createTestDatabase();
      env = await serviceEnv({
        REDIS_URL: redis.url,
        MODEL_CACHE_DIR: cacheDir,
        ...(db ? { DATABASE_URL: db.url } : {}),
      });
      svc = spawnService(service, env);
      await svc.waitForReady(BOOT_BOUND_MS);
    }, BOOT_BOUND_MS + 30_000);

    afterAll(async () => {
      if (svc) await svc.stop(5000);
      await redis?.stop();
      await db?.drop();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    it('answers /healthz 200', async () => {
      const res = await httpGet(`${svc!.url}/healthz`);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('answers /readyz 200 with its checks', async () => {
      const res = await httpGet(`${svc!.url}/readyz`, READYZ_BOUND_MS);
      expect(res.status).toBe(200);
      const body = res.json<ReadyBody>();
      expect(body.status).toBe('ok');
      expect(Object.keys(body.checks ?? {}).sort()).toEqual([...expected.checks].sort());
      for (const name of expected.checks) expect(body.checks?.[name]).toBe('ok');
      if (expected.cacheDir === 'created') expect(existsSync(cacheDir)).toBe(true);
    });

    it('exposes Prometheus metrics labelled with the service', async () => {
      const res = await httpGet(`${svc!.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.text).toMatch(
        new RegExp(`^process_cpu_user_seconds_total\\{[^}]*service="${service}"[^}]*\\} `, 'm'),
      );
    });

    it('turns not ready when its Redis stops, without hanging, and recovers by itself', async () => {
      await redis.stop();
      const down = await waitFor(
        async () => {
          // Every call must answer within the bound: a check that hangs fails here.
          const res = await httpGet(`${svc!.url}/readyz`, READYZ_BOUND_MS);
          return res.status === 503 ? res.json<ReadyBody>() : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: `${service} /readyz 503` },
      );
      expect(down.status).toBe('unavailable');
      expect(down.failing).toContain('redis');
      expect(down.checks?.redis).toEqual(expect.any(String));
      expect(down.checks?.redis).not.toBe('ok');
      for (const name of expected.checks.filter((c) => c !== 'redis')) {
        expect(down.checks?.[name]).toBe('ok');
      }
      const health = await httpGet(`${svc!.url}/healthz`);
      expect(health.status).toBe(200);

      await redis.restart();
      await waitFor(
        async () => (await httpGet(`${svc!.url}/readyz`, READYZ_BOUND_MS)).status === 200,
        { timeoutMs: 30_000, intervalMs: 200, what: `${service} /readyz 200 again` },
      );
    });

    it('exits 0 on SIGTERM', async () => {
      svc!.sigterm();
      const exit = await svc!.exited;
      expect({ ...exit, output: exit.code === 0 ? '' : svc!.output() }).toEqual({
        code: 0,
        signal: null,
        output: '',
      });
      expect(svc!.logs.some((r) => r.msg === 'shutdown complete')).toBe(true);
    });

    it('exits 0 on SIGTERM while its Redis is down', async () => {
      const port = portVariable(service);
      const second = spawnService(service, { ...env, [port]: (await serviceEnv())[port] });
      try {
        await second.waitForReady(BOOT_BOUND_MS);
        await redis.stop();
        await waitFor(
          async () => (await httpGet(`${second.url}/readyz`, READYZ_BOUND_MS)).status === 503,
          { timeoutMs: 30_000, intervalMs: 200, what: `${service} /readyz 503` },
        );
        second.sigterm();
        const exit = await second.exited;
        expect({ ...exit, output: exit.code === 0 ? '' : second.output() }).toEqual({
          code: 0,
          signal: null,
          output: '',
        });
      } finally {
        await second.stop(5000);
      }
    });
  });

  it(`${service} refuses a bad config: exit 1, stderr names every bad variable`, async () => {
    const port = portVariable(service);
    const env = await serviceEnv({ REDIS_URL: 'foo', [port]: 'x' });
    const bad = spawnService(service, env);
    const exit = await bad.exited;
    expect(exit.code).toBe(1);
    const stderr = bad.stderr.join('\n');
    expect(stderr).toContain('REDIS_URL');
    expect(stderr).toContain(port);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
}
