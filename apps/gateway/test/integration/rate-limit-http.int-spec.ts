// Rate limits through the gateway's HTTP API (AppModule in this process, real Redis and Postgres).
// The window is a day, so a test run never sees the previous window weigh: within it the counts
// are exact whatever the wall clock says (a window turning mid-test carries almost all of the
// previous count, which keeps the same answers).
import { ApiKeyService, hashSecret } from '@strata/api-keys';
import { RedisKeys } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  createTestDatabase,
  deleteRedisPrefix,
  testRedisClient,
  testRedisPrefix,
  type TestDatabase,
} from '@strata/testing';
import type { RedisClient } from '@strata/service-kit';
import { startGatewayApp, type GatewayApp } from '../support/gateway-app';
import { request, type Answer } from '../support/http-client';

const WINDOW_S = 86_400;
const POLICY = (q: number) => `"api-key";q=${q};w=${WINDOW_S}`;

function rateLimit(answer: Answer): { r: number; t: number } | undefined {
  const header = answer.headers.ratelimit;
  if (header === undefined) return undefined;
  const m = /^"api-key";r=(\d+);t=(\d+)$/.exec(String(header));
  if (!m) throw new Error(`malformed RateLimit header ${String(header)}`);
  return { r: Number(m[1]), t: Number(m[2]) };
}

describe('gateway rate limits over HTTP', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let prefix: string;
  let gw: GatewayApp;
  let redis: RedisClient;
  let adminKey: string;
  let defaultKey: string;

  const get = (p: string, key?: string) =>
    request(`${gw.url}${p}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

  beforeAll(async () => {
    db = await createTestDatabase('gwrl');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    prefix = testRedisPrefix('gwrl');
    gw = await startGatewayApp({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: prefix,
      S3_BUCKET: undefined,
      RATE_LIMIT_DEFAULT: '3',
      RATE_LIMIT_WINDOW: String(WINDOW_S),
    });
    const keys = new ApiKeyService(prisma);
    adminKey = (await keys.create({ name: 'admin', scopes: ['admin'], rateLimit: 0 })).secret;
    defaultKey = (await keys.create({ name: 'default-limit' })).secret;
    redis = testRedisClient();
  });

  afterAll(async () => {
    await gw?.close();
    redis?.disconnect();
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('admits RATE_LIMIT_DEFAULT requests, then 429 with Retry-After and RateLimit headers', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await get('/v2', defaultKey));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
    for (const a of answers) expect(a.headers['ratelimit-policy']).toBe(POLICY(3));
    expect(answers.map((a) => rateLimit(a)?.r)).toEqual([2, 1, 0, 0, 0]);

    // While something remains, t is what is left of the fixed window (at most the window).
    const first = rateLimit(answers[0])!;
    expect(first.t).toBeGreaterThan(0);
    expect(first.t).toBeLessThanOrEqual(WINDOW_S);

    const refused = answers[3];
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.json()).toEqual({
      error: expect.stringMatching(
        /^rate limit exceeded: this API key may make 3 requests per 86400 s; retry in \d+ s$/,
      ),
    });
    const retryAfter = Number(refused.headers['retry-after']);
    // Retry-After = t: the rest of this window, then until one of 3 weighted fits (2/3 of a day).
    expect(rateLimit(refused)!.t).toBe(retryAfter);
    expect(retryAfter).toBeGreaterThan(WINDOW_S / 3);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_S + Math.ceil(WINDOW_S / 3));
    expect(refused.json<{ error: string }>().error).toContain(`retry in ${retryAfter} s`);

    // The count lives in the key's Redis bucket (refusals not counted).
    const window = Math.floor(Date.now() / (WINDOW_S * 1000));
    const bucket = new RedisKeys(prefix).rateLimit(hashSecret(defaultKey), window);
    expect(await redis.get(bucket)).toBe('3');

    const metrics = (await get('/metrics')).body.toString();
    expect(metrics).toMatch(
      /strata_gateway_infer_rejected_total\{[^}]*reason="rate_limit"[^}]*\} 2/,
    );
    expect(metrics).toMatch(/strata_gateway_rate_limit_in_memory\{[^}]*\} 0/);
  });

  it("a key's own limit from POST /admin/keys overrides the default; 0 means unlimited", async () => {
    const created = await request(`${gw.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'two-per-day', rate_limit: 2 }),
    });
    expect(created.status).toBe(201);
    const body = created.json<{ secret: string; rate_limit: number | null }>();
    expect(body.rate_limit).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await get('/v2', body.secret);
      statuses.push(a.status);
      expect(a.headers['ratelimit-policy']).toBe(POLICY(2));
    }
    expect(statuses).toEqual([200, 200, 429]);

    const listed = (await get('/admin/keys', adminKey)).json<{
      keys: { name: string; rate_limit: number | null }[];
    }>().keys;
    expect(listed.find((k) => k.name === 'two-per-day')?.rate_limit).toBe(2);
    expect(listed.find((k) => k.name === 'default-limit')?.rate_limit).toBeNull();
    expect(listed.find((k) => k.name === 'admin')?.rate_limit).toBe(0);

    // The admin key (rate_limit 0) made more than 3 requests: never limited, no headers.
    for (let i = 0; i < 4; i++) {
      const a = await get('/admin/keys', adminKey);
      expect(a.status).toBe(200);
      expect(a.headers.ratelimit).toBeUndefined();
      expect(a.headers['ratelimit-policy']).toBeUndefined();
    }

    const bad = await request(`${gw.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', rate_limit: -1 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.json<{ error: string }>().error).toMatch(/rate limit must be an integer/);
  });

  it('never limits open routes nor requests without a valid key', async () => {
    for (let i = 0; i < 5; i++) {
      for (const p of ['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']) {
        const a = await get(p);
        expect([p, a.status, a.headers.ratelimit]).toEqual([p, 200, undefined]);
      }
      const anonymous = await get('/v2');
      expect([anonymous.status, anonymous.headers.ratelimit]).toEqual([401, undefined]);
    }
  });

  it('limited requests carry the headers whatever their answer (404)', async () => {
    const key = (await new ApiKeyService(prisma).create({ name: 'lost', rateLimit: 1 })).secret;
    const missing = await get('/v2/models/does-not-exist', key);
    expect(missing.status).toBe(404);
    expect(rateLimit(missing)?.r).toBe(0);
    expect((await get('/v2/models/does-not-exist', key)).status).toBe(429);
  });
});
