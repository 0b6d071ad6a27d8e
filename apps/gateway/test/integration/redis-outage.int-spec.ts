import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '@strata/api-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  buildIdentityModel,
  createTestDatabase,
  startRedisServer,
  waitFor,
  type RedisServer,
  type TestDatabase,
} from '@strata/testing';
import { startGatewayApp, type GatewayApp } from '../support/gateway-app';
import { jsonPost, request } from '../support/http-client';
import { registerVersion } from '../support/registry-fixture';

describe('gateway with Redis down (private redis-server)', () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let prisma: PrismaClient;
  let cacheDir: string;
  let gw: GatewayApp;
  let key: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    db = await createTestDatabase('gwr');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 2 });
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwr-'));
    await registerVersion(prisma, cacheDir, {
      model: 'id',
      weights: buildIdentityModel({ datatype: 'FP32', shape: ['batch', 2] }),
    });
    gw = await startGatewayApp({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      MODEL_CACHE_DIR: cacheDir,
      S3_BUCKET: undefined,
    });
    key = (await new ApiKeyService(prisma).create({ name: 'r', scopes: ['infer', 'admin'] }))
      .secret;
  });

  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
    await prisma?.$disconnect();
    await db?.drop();
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After at once instead of hanging; Postgres-only routes still work', async () => {
    await redis.stop();
    const body = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] };
    const infer = await jsonPost(`${gw.url}/v2/models/id/infer`, key, body);
    expect(infer.status).toBe(503);
    expect(infer.headers['retry-after']).toBe('1');
    expect(infer.json<{ error: string }>().error).toMatch(/Redis is unavailable/);
    const auth = { authorization: `Bearer ${key}` };
    expect((await request(`${gw.url}/model/registry`, { headers: auth })).status).toBe(503);
    expect((await jsonPost(`${gw.url}/model/clear`, key, {})).status).toBe(503);
    expect((await request(`${gw.url}/v2/models/id`, { headers: auth })).status).toBe(200);
    expect((await request(`${gw.url}/v2/health/ready`)).status).toBe(503);

    await redis.restart();
    await waitFor(async () => (await request(`${gw.url}/v2/health/ready`)).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the gateway to be ready again',
    });
  });
});
