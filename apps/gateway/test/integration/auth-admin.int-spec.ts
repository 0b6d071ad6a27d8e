import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '@strata/api-keys';
import { RedisKeys } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  buildTwoInTwoOutModel,
  createTestDatabase,
  deleteRedisPrefix,
  testRedisPrefix,
  testRedisUrl,
  type TestDatabase,
} from '@strata/testing';
import { Redis } from 'ioredis';
import { echo, startFakeWorker, type FakeWorker } from '../support/fake-worker';
import { startGatewayApp, type GatewayApp } from '../support/gateway-app';
import { request } from '../support/http-client';
import { registerVersion } from '../support/registry-fixture';

describe('gateway auth, admin and model management (in process)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let prefix: string;
  let cacheDir: string;
  let gw: GatewayApp;
  let worker: FakeWorker;
  let keys: ApiKeyService;
  let inferKey: string;
  let adminKey: string;
  let redis: Redis;

  const get = (p: string, key?: string) =>
    request(`${gw.url}${p}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const send = (method: string, p: string, key: string | undefined, body?: unknown) =>
    request(`${gw.url}${p}`, {
      method,
      headers: {
        ...(key && { authorization: `Bearer ${key}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    db = await createTestDatabase('gwa');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    prefix = testRedisPrefix('gwa');
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwa-'));
    const two = buildTwoInTwoOutModel();
    await registerVersion(prisma, cacheDir, { model: 'two', weights: two, taskType: 'test' });
    await registerVersion(prisma, cacheDir, { model: 'two', weights: two, taskType: 'test' });
    gw = await startGatewayApp({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: prefix,
      MODEL_CACHE_DIR: cacheDir,
      S3_BUCKET: undefined,
      INFER_TIMEOUT_MS: '5000',
    });
    keys = new ApiKeyService(prisma);
    inferKey = (await keys.create({ name: 'infer', scopes: ['infer'] })).secret;
    adminKey = (await keys.create({ name: 'admin', scopes: ['admin'] })).secret;
    worker = await startFakeWorker(prefix, echo);
    redis = new Redis(testRedisUrl());
  });

  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    redis?.disconnect();
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('leaves /healthz, /readyz, /metrics and /v2/health/* open', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']) {
      expect([p, (await get(p)).status]).toEqual([p, 200]);
    }
    expect((await get('/v2/health/ready')).json()).toEqual({ ready: true });
  });

  it('answers 401 without a valid key everywhere else', async () => {
    const routes: [string, string][] = [
      ['GET', '/v2'],
      ['GET', '/v2/models/two'],
      ['GET', '/v2/models/two/ready'],
      ['POST', '/v2/models/two/infer'],
      ['POST', '/v2/repository/index'],
      ['GET', '/model/registry'],
      ['POST', '/infer/classification'],
      ['GET', '/admin/keys'],
      ['GET', '/admin/models'],
    ];
    for (const [method, p] of routes) {
      for (const key of [undefined, 'sk_nope', `sk_${'Z'.repeat(32)}`]) {
        const res = await send(method, p, key, method === 'POST' ? {} : undefined);
        expect([method, p, key, res.status]).toEqual([method, p, key, 401]);
        expect(res.json<{ error: string }>().error).toMatch(/API key/);
      }
    }
  });

  it('answers 403 with the wrong scope, and takes ?api_key=', async () => {
    expect((await get('/admin/keys', inferKey)).status).toBe(403);
    expect((await get('/admin/keys', inferKey)).json()).toEqual({
      error: 'this endpoint needs an API key with the "admin" scope; this key has infer',
    });
    expect((await get('/v2/models/two', adminKey)).status).toBe(403);
    expect((await send('POST', '/model/clear', inferKey, {})).status).toBe(403);
    expect((await get(`/v2/models/two?api_key=${inferKey}`)).status).toBe(200);
    expect((await get(`/admin/keys?api_key=${adminKey}`)).status).toBe(200);
  });

  it('refuses expired keys and revoked keys (at once when revoked here)', async () => {
    const expiring = await keys.create({ name: 'exp', expiresAt: new Date(Date.now() + 60_000) });
    await prisma.apiKey.update({
      where: { id: expiring.key.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect((await get('/v2', expiring.secret)).json()).toEqual({
      error: 'the API key has expired',
    });

    const created = await send('POST', '/admin/keys', adminKey, {
      name: 'short-lived',
      scopes: ['infer'],
      expires_in: '1d',
    });
    expect(created.status).toBe(201);
    const body = created.json<{ id: string; secret: string; prefix: string; expires_at: string }>();
    expect(body.secret).toMatch(/^sk_[0-9A-Za-z]{32}$/);
    expect(body.secret.startsWith(body.prefix)).toBe(true);
    expect((await get('/v2', body.secret)).status).toBe(200);

    const listed = await get('/admin/keys', adminKey);
    expect(listed.body.toString()).not.toContain(body.secret);
    expect(
      listed
        .json<{ keys: { id: string; last_used_at: string | null }[] }>()
        .keys.find((k) => k.id === body.id),
    ).toBeDefined();

    const revoked = await send('DELETE', `/admin/keys/${body.id}`, adminKey);
    expect(revoked.status).toBe(200);
    expect(revoked.json()).toMatchObject({
      id: body.id,
      revoked_at: expect.any(String),
      already_revoked: false,
    });
    expect((await get('/v2', body.secret)).json()).toEqual({ error: 'the API key was revoked' });
    expect((await send('DELETE', `/admin/keys/${body.id}`, adminKey)).json()).toMatchObject({
      already_revoked: true,
    });
    expect(
      (await send('DELETE', '/admin/keys/0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60', adminKey)).status,
    ).toBe(404);
    expect(
      (await send('POST', '/admin/keys', adminKey, { name: '', scopes: ['infer'] })).status,
    ).toBe(400);
    expect(
      (await send('POST', '/admin/keys', adminKey, { name: 'x', scopes: ['root'] })).json(),
    ).toEqual({
      error: 'unknown scope "root" (scopes: infer, admin)',
    });
  });

  it('records lastUsedAt', async () => {
    const { key, secret } = await keys.create({ name: 'used' });
    expect((await get('/v2', secret)).status).toBe(200);
    for (let i = 0; i < 50 && !(await keys.get(key.id)).lastUsedAt; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await keys.get(key.id)).lastUsedAt).toBeInstanceOf(Date);
  });

  it('serves v2 server and model metadata', async () => {
    expect((await get('/v2', inferKey)).json()).toEqual({
      name: 'strata',
      version: expect.any(String),
      extensions: ['binary_tensor_data', 'model_repository'],
    });
    expect((await get('/v2/models/two', inferKey)).json()).toEqual({
      name: 'two',
      versions: ['1', '2'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1, 3] },
        { name: 'b', datatype: 'INT64', shape: [-1, 2] },
      ],
      outputs: [
        { name: 'doubled', datatype: 'FP32', shape: [-1, 3] },
        { name: 'negated', datatype: 'INT64', shape: [-1, 2] },
      ],
    });
    expect((await get('/v2/models/two/versions/1', inferKey)).json()).toMatchObject({
      versions: ['1'],
    });
    expect((await get('/v2/models/two/versions/latest', inferKey)).json()).toMatchObject({
      versions: ['2'],
    });
    expect((await get('/v2/models/two/ready', inferKey)).json()).toEqual({
      name: 'two',
      version: '2',
      ready: true,
    });
    expect((await get('/v2/models/two/versions/7/ready', inferKey)).status).toBe(404);
    expect((await get('/v2/models/ghost/ready', inferKey)).status).toBe(404);
  });

  it('loads through the queue, unloads and clears through the events channel, lists placements', async () => {
    const sub = new Redis(testRedisUrl());
    const messages: unknown[] = [];
    const k = new RedisKeys(prefix);
    sub.on('message', (_c, m: string) => messages.push(JSON.parse(m)));
    await sub.subscribe(k.eventsChannel());
    try {
      const added = await send('POST', '/model/add', adminKey, { model_id: 'two/1' });
      expect(added.json()).toEqual({
        model_id: 'two/1',
        worker: 'fake',
        already_loaded: false,
        load_ms: 1,
      });
      expect(
        (
          await send('POST', '/v2/repository/models/two/load', adminKey, {
            parameters: { version: '2' },
          })
        ).json(),
      ).toEqual({});
      const loads = worker.jobs.filter((j) => j.name === 'load');
      expect(loads.map(({ data: { model, version } }) => ({ model, version }))).toEqual([
        { model: 'two', version: 1 },
        { model: 'two', version: 2 },
      ]);
      expect((await send('POST', '/model/remove', adminKey, { model_id: 'two/1' })).json()).toEqual(
        { model_id: 'two/1', unloaded: true },
      );
      expect((await send('POST', '/v2/repository/models/two/unload', adminKey)).json()).toEqual({});
      expect((await send('POST', '/model/clear', adminKey, {})).json()).toEqual({ cleared: true });
      for (let i = 0; i < 50 && messages.length < 3; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(messages).toEqual([
        { type: 'unload', model: 'two', version: 1 },
        { type: 'unload', model: 'two' },
        { type: 'clear' },
      ]);

      // A placement record as a worker writes it (set + index).
      await redis.zadd(k.placement('two', 2), Date.now() + 60_000, 'worker-a');
      await redis.zadd(k.placementIndex(), Date.now() + 60_000, 'two/2');
      await redis.zadd(k.placement('two', 1), Date.now() - 1000, 'worker-dead');
      await redis.zadd(k.placementIndex(), Date.now() - 1000, 'two/1');
      expect((await get('/model/registry', inferKey)).json()).toEqual({
        models: [
          {
            model_id: 'two/2',
            model: 'two',
            version: 2,
            task_type: 'test',
            input_width: null,
            input_height: null,
            batch_size: 'dynamic',
            workers: ['worker-a'],
          },
        ],
      });
      expect((await send('POST', '/v2/repository/index', inferKey, {})).json()).toEqual([
        {
          name: 'two',
          version: '1',
          state: 'UNAVAILABLE',
          reason: expect.stringMatching(/not loaded/),
        },
        { name: 'two', version: '2', state: 'READY', reason: '' },
      ]);
      expect(
        (await send('POST', '/v2/repository/index', inferKey, { ready: true })).json(),
      ).toEqual([{ name: 'two', version: '2', state: 'READY', reason: '' }]);
      expect((await send('POST', '/model/add', adminKey, { model_id: 'ghost' })).status).toBe(404);
      expect((await send('POST', '/model/add', adminKey, {})).status).toBe(400);
    } finally {
      sub.disconnect();
    }
  });

  it('manages models, aliases and versions through the admin API', async () => {
    const list = await get('/admin/models', adminKey);
    expect(list.json<{ models: { name: string; latest: number }[] }>().models).toEqual([
      expect.objectContaining({ name: 'two', latest: 2, task_type: 'test' }),
    ]);
    expect(
      (await send('PUT', '/admin/models/two/aliases/prod', adminKey, { version: 1 })).json(),
    ).toEqual({
      model: 'two',
      alias: 'prod',
      version: 1,
      previous: null,
    });
    expect((await get('/v2/models/two/versions/prod', inferKey)).json()).toMatchObject({
      versions: ['1'],
    });
    expect(
      (await send('PUT', '/admin/models/two/aliases/latest', adminKey, { version: 1 })).status,
    ).toBe(409);
    expect(
      (await send('PUT', '/admin/models/two/aliases/prod', adminKey, { version: 9 })).status,
    ).toBe(404);
    expect((await send('DELETE', '/admin/models/two/versions/1', adminKey)).status).toBe(409);
    const deleted = await send('DELETE', '/admin/models/two/versions/1?force=true', adminKey);
    expect(deleted.json()).toMatchObject({
      model: 'two',
      version: 1,
      removed_aliases: ['prod'],
      latest: 2,
    });
    expect((await get('/v2/models/two/versions/1', inferKey)).json()).toEqual({
      error: 'Version 1 of model "two" was deleted',
    });
    const shown = await get('/admin/models/two?all=true', adminKey);
    expect(
      shown
        .json<{ versions: { version: number; status: string }[] }>()
        .versions.map((v) => [v.version, v.status]),
    ).toEqual([
      [1, 'deleted'],
      [2, 'ready'],
    ]);
    expect((await send('DELETE', '/admin/models/two', adminKey)).json()).toMatchObject({
      model: 'two',
      versions: [1, 2],
    });
    expect((await get('/v2/models/two', inferKey)).status).toBe(404);
    expect((await get('/admin/models/two', adminKey)).status).toBe(404);
  });
});
