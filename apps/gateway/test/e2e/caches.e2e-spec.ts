import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '@strata/api-keys';
import { RedisKeys } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  buildIdentityModel,
  createTestDatabase,
  serviceEnv,
  spawnService,
  startRedisServer,
  testRedisPrefix,
  waitFor,
  type RedisServer,
  type SpawnedService,
  type TestDatabase,
} from '@strata/testing';
import { Redis } from 'ioredis';
import { request } from '../support/http-client';
import { registerVersion } from '../support/registry-fixture';

const INFER_TIMEOUT_MS = 4000;
/** The bound: a revoked key is refused by every gateway within 1 s. */
const REVOCATION_BOUND_MS = 1000;

interface ReadyBody {
  status: string;
  checks?: Record<string, string>;
  failing?: string[];
}

/**
 * Two gateway processes (built dist/main.js) on one private redis-server and one Postgres
 * schema, with 60 s in-process cache TTLs: only the invalidation broadcasts can make them notice
 * a revocation or an alias move within the bounds checked here.
 */
describe('auth and metadata caches across two gateway processes', () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let prisma: PrismaClient;
  let keys: ApiKeyService;
  let work: string;
  let a: SpawnedService;
  let b: SpawnedService;
  let admin: string;
  const prefix = testRedisPrefix('gw-caches');

  const get = (gw: SpawnedService, p: string, key: string, timeoutMs = 5000) =>
    request(`${gw.url}${p}`, { headers: { authorization: `Bearer ${key}` }, timeoutMs });
  const send = (gw: SpawnedService, method: string, p: string, key: string, body?: unknown) =>
    request(`${gw.url}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      timeoutMs: 5000,
    });
  const readyz = async (gw: SpawnedService): Promise<{ status: number; body: ReadyBody }> => {
    const res = await request(`${gw.url}/readyz`, { timeoutMs: 5000 });
    return { status: res.status, body: res.json<ReadyBody>() };
  };
  /** Polls `gw` until `key` is refused as revoked; rejects once `deadline` (ms epoch) passed. */
  const refusedBy = (gw: SpawnedService, key: string, deadline: number) =>
    waitFor(
      async () => {
        const res = await get(gw, '/v2', key);
        return res.status === 401 && /revoked/.test(res.json<{ error: string }>().error);
      },
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        intervalMs: 10,
        what: `${gw.name} to refuse the revoked key`,
      },
    );
  const versionsOf = async (gw: SpawnedService, key: string, ref: string) => {
    const res = await get(gw, `/v2/models/m/versions/${ref}`, key);
    expect(res.status).toBe(200);
    return res.json<{ versions: string[] }>().versions;
  };

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gw-caches-'));
    [redis, db] = await Promise.all([startRedisServer(), createTestDatabase('gw_caches')]);
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 2 });
    const cacheDir = path.join(work, 'cache');
    const weights = buildIdentityModel({ datatype: 'FP32', shape: ['batch', 2] });
    await registerVersion(prisma, cacheDir, { model: 'm', weights, alias: 'prod' });
    await registerVersion(prisma, cacheDir, { model: 'm', weights });
    keys = new ApiKeyService(prisma);
    admin = (await keys.create({ name: 'admin', scopes: ['admin', 'infer'] })).secret;
    const shared = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      DATABASE_URL: db.url,
      MODEL_CACHE_DIR: cacheDir,
      S3_BUCKET: undefined,
      AUTH_LOCAL_CACHE_TTL_MS: '60000',
      MODEL_METADATA_LOCAL_TTL_MS: '60000',
      INFER_TIMEOUT_MS: String(INFER_TIMEOUT_MS),
      LOG_LEVEL: 'warn',
    };
    a = spawnService('gateway', await serviceEnv(shared));
    b = spawnService('gateway', await serviceEnv(shared));
    await Promise.all([a.waitForReady(60_000), b.waitForReady(60_000)]);
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([a?.stop(10_000), b?.stop(10_000)]);
    await redis?.stop();
    await prisma?.$disconnect();
    await db?.drop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('a key revoked through gateway A is refused by gateway B within 1 s', async () => {
    const { key, secret } = await keys.create({ name: 'to revoke' });
    for (const gw of [a, b, a, b]) expect((await get(gw, '/v2', secret)).status).toBe(200);

    const revoked = await send(a, 'DELETE', `/admin/keys/${key.id}`, admin);
    const deadline = Date.now() + REVOCATION_BOUND_MS;
    expect(revoked.status).toBe(200);
    expect(revoked.json()).toMatchObject({ already_revoked: false, broadcast: true });
    expect((await get(a, '/v2', secret)).status).toBe(401);
    await refusedBy(b, secret, deadline);
  });

  it('an alias moved through gateway A is seen by both gateways at once', async () => {
    for (const gw of [a, b, a, b]) expect(await versionsOf(gw, admin, 'prod')).toEqual(['1']);

    const moved = await send(a, 'PUT', '/admin/models/m/aliases/prod', admin, { version: 2 });
    expect(moved.status).toBe(200);
    const deadline = Date.now() + REVOCATION_BOUND_MS;
    expect(await versionsOf(a, admin, 'prod')).toEqual(['2']);
    await waitFor(async () => (await versionsOf(b, admin, 'prod'))[0] === '2', {
      timeoutMs: Math.max(0, deadline - Date.now()),
      intervalMs: 10,
      what: 'gateway B to resolve the moved alias',
    });
  });

  it('Redis stopped: 503 with Retry-After fast, auth and metadata still served, all recovers', async () => {
    const cached = (await keys.create({ name: 'cached' })).secret;
    for (const gw of [a, b]) expect((await get(gw, '/v2/models/m', cached)).status).toBe(200);

    await redis.stop();
    for (const gw of [a, b]) {
      const down = await waitFor(
        async () => {
          const r = await readyz(gw);
          return r.status === 503 ? r.body : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `${gw.name} /readyz 503` },
      );
      expect(down.failing).toContain('redis');
      // Why: the connection state and last error (or, in the instant the socket closes, the
      // client's own "Stream isn't writeable" refusal).
      expect(down.checks?.redis).toMatch(/not connected|ECONNREFUSED|closed|writeable/i);
      expect(down.checks?.postgres).toBe('ok');
    }

    const body = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] };
    // Bounded well below INFER_TIMEOUT_MS: a hang would fail here, not wait for the timeout.
    const infer = await request(`${a.url}/v2/models/m/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cached}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: INFER_TIMEOUT_MS / 2,
    });
    expect(infer.status).toBe(503);
    expect(Number(infer.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // A key neither gateway has seen: verified in Postgres, Redis errors are misses.
    const fresh = (await keys.create({ name: 'fresh' })).secret;
    for (const gw of [a, b]) {
      expect((await get(gw, '/v2', fresh, 2000)).status).toBe(200);
      expect((await get(gw, '/v2', cached, 2000)).status).toBe(200);
      expect((await get(gw, '/v2/models/m', cached, 2000)).status).toBe(200);
      expect((await get(gw, '/v2/models/m/versions/1', fresh, 2000)).status).toBe(200);
    }

    await redis.restart();
    for (const gw of [a, b]) {
      await waitFor(async () => (await readyz(gw)).status === 200, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `${gw.name} /readyz 200 again`,
      });
    }
    // The queue path is back: the job is queued (no worker here, so it times out: 504).
    await waitFor(
      async () => {
        const res = await request(`${b.url}/v2/models/m/infer`, {
          method: 'POST',
          headers: { authorization: `Bearer ${cached}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          timeoutMs: INFER_TIMEOUT_MS * 2,
        });
        return res.status === 504;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'inference to be queued again (504)' },
    );

    // The event subscriptions are back too (both gateways resubscribed by themselves): a
    // revocation through B reaches A within 1 s.
    const probe = new Redis(redis.url);
    try {
      const channel = new RedisKeys(prefix).eventsChannel();
      await waitFor(async () => (await probe.pubsub('NUMSUB', channel))[1] === 2, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'both gateways to subscribe to the events channel again',
      });
    } finally {
      probe.disconnect();
    }
    const { key, secret } = await keys.create({ name: 'after the outage' });
    for (const gw of [a, b]) expect((await get(gw, '/v2', secret)).status).toBe(200);
    const revoked = await send(b, 'DELETE', `/admin/keys/${key.id}`, admin);
    const deadline = Date.now() + REVOCATION_BOUND_MS;
    expect(revoked.json()).toMatchObject({ broadcast: true });
    await refusedBy(a, secret, deadline);
  }, 120_000);
});
