import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ApiKeyService, hashSecret } from '@strata/api-keys';
import { QUEUE, bullPrefix, type UsageEvent, type UsageRecordsJobData } from '@strata/cache-keys';
import {
  buildConstantOutputModel,
  buildIdentityModel,
  serviceEnv,
  spawnService,
  testRedisClient,
  type RedisClient,
  waitFor,
  yoloV8Output,
  type SpawnedService,
} from '@strata/testing';
import { Queue } from 'bullmq';
import { request, type Answer } from '../support/http-client';
import { PADDLE_CLS_ENVIRONMENT, solidPng, textPng } from '../support/images';
import { REAL_MODELS } from '../support/real-models';
import { Stack } from '../support/stack';

interface UsageRowJson {
  group: string;
  requests: number;
  items: number;
  compute_ms: number;
  cached_count: number;
  error_count: number;
}

interface RecentJson {
  model: string;
  inferences: { worker: string; id: string; version: number; batch: number; ms: number }[];
  errors: unknown[];
}

const ident = (shape: number[], id?: string) => ({
  ...(id && { id }),
  inputs: [
    {
      name: 'input',
      datatype: 'FP32',
      shape,
      data: new Array(shape.reduce((a, b) => a * b, 1)).fill(0.5),
    },
  ],
});

describe('usage end to end (gateway → usage queue → telemetry-sender → Postgres → /v1/usage)', () => {
  const stack = new Stack({
    workers: 2,
    // Every event is written as soon as it is held: rows appear without waiting for a window.
    telemetry: { TELEMETRY_FLUSH_MAX_EVENTS: '1' },
  });
  let keyA: string;
  let keyB: string;
  let adminKey: string;
  let optOut: SpawnedService | undefined;
  let connection: RedisClient;
  let usageQueue: Queue;

  const call = (base: string, secret: string, p: string, body?: unknown): Promise<Answer> =>
    request(`${base}${p}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      timeoutMs: 60_000,
    });
  const gw = (secret: string, p: string, body?: unknown) =>
    call(stack.gateway.url, secret, p, body);

  async function totalRequests(): Promise<number> {
    const sum = await stack.prisma.usageAggregate.aggregate({ _sum: { requests: true } });
    return sum._sum.requests ?? 0;
  }

  async function usageRows(groupBy: 'model' | 'key'): Promise<UsageRowJson[]> {
    const res = await gw(adminKey, `/v1/usage?group_by=${groupBy}`);
    expect(res.status).toBe(200);
    return res.json<{ rows: UsageRowJson[] }>().rows;
  }

  beforeAll(async () => {
    await stack.start();
    const keys = new ApiKeyService(stack.prisma);
    keyA = (await keys.create({ name: 'usage a' })).secret;
    keyB = (await keys.create({ name: 'usage b', workspace: 'team-b' })).secret;
    adminKey = (await stack.apiKey(['admin'])).secret;
    await stack.publish('ident', {
      'weights.onnx': buildIdentityModel({ datatype: 'FP32', shape: ['batch', 4] }),
    });
    await stack.publish(
      'cls',
      {
        'weights.onnx': await fs.readFile(REAL_MODELS.classifier),
        'environment.json': JSON.stringify(PADDLE_CLS_ENVIRONMENT),
        'class_names.txt': '0\n180\n',
      },
      { taskType: 'classification' },
    );
    await stack.publish(
      'det',
      {
        'weights.onnx': buildConstantOutputModel(
          yoloV8Output([{ cx: 20, cy: 30, w: 20, h: 20, classId: 0, score: 0.9 }], 2, 10),
        ),
        'environment.json': JSON.stringify({ preprocessing: { resize: 'letterbox' } }),
        'class_names.txt': 'cat\ndog\n',
      },
      { taskType: 'object-detection' },
    );
    connection = testRedisClient({ maxRetriesPerRequest: null });
    usageQueue = new Queue(QUEUE.usage, { connection, prefix: bullPrefix(stack.prefix) });
  });

  afterAll(async () => {
    await optOut?.stop(15_000);
    await usageQueue?.close();
    connection?.disconnect();
    await stack.stop();
  });

  it('counts every inference request once in Postgres; /v1/usage groups them by model and by key', async () => {
    // Key A: two v2 requests (3 + 2 items) and one classification (1 image).
    expect((await gw(keyA, '/v2/models/ident/infer', ident([3, 4], 'a-1'))).status).toBe(200);
    expect((await gw(keyA, '/v2/models/ident/infer', ident([2, 4], 'a-2'))).status).toBe(200);
    const cls = await gw(keyA, '/infer/classification', {
      model_id: 'cls',
      image: (await textPng('Hello')).toString('base64'),
    });
    expect(cls.status).toBe(200);
    // Key B (workspace team-b): one detection, one request refused after the model resolved.
    const det = await gw(keyB, '/infer/object_detection', {
      model_id: 'det',
      image: (await solidPng(64, 32)).toString('base64'),
    });
    expect(det.status).toBe(200);
    const bad = await gw(keyB, '/v2/models/ident/infer', {
      inputs: [{ name: 'input', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }],
    });
    expect(bad.status).toBe(400);
    // Never resolved: not counted.
    expect((await gw(keyA, '/v2/models/ghost/infer', ident([1, 4]))).status).toBe(404);

    await waitFor(async () => (await totalRequests()) >= 5, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the telemetry-sender to write 5 requests',
    });
    // The rows in Postgres, straight from the table.
    const rows = await stack.prisma.usageAggregate.findMany();
    const sum = (pick: (r: (typeof rows)[number]) => boolean) =>
      rows
        .filter(pick)
        .reduce((n, r) => ({ requests: n.requests + r.requests, items: n.items + r.items }), {
          requests: 0,
          items: 0,
        });
    expect(await totalRequests()).toBe(5);
    expect(sum((r) => r.apiKeyHash === hashSecret(keyA))).toEqual({ requests: 3, items: 6 });
    expect(sum((r) => r.apiKeyHash === hashSecret(keyB))).toEqual({ requests: 2, items: 1 });
    expect(new Set(rows.map((r) => `${r.apiKeyHash.slice(0, 8)} ${r.workspace}`))).toEqual(
      new Set([
        `${hashSecret(keyA).slice(0, 8)} default`,
        `${hashSecret(keyB).slice(0, 8)} team-b`,
      ]),
    );
    expect(rows.every((r) => r.category === 'infer' && r.version === 1)).toBe(true);

    const byModel = await usageRows('model');
    expect(
      byModel.map((r) => [r.group, r.requests, r.items, r.error_count, r.cached_count]),
    ).toEqual([
      ['cls', 1, 1, 0, 0],
      ['det', 1, 1, 0, 0],
      ['ident', 3, 5, 1, 0],
    ]);
    // Compute time is the worker's: the task answers report the same number.
    const clsMs = cls.json<{ timings: { inference_ms: number } }>().timings.inference_ms;
    expect(byModel[0].compute_ms).toBeCloseTo(clsMs, 2);
    const detMs = det.json<{ timings: { inference_ms: number } }>().timings.inference_ms;
    expect(byModel[1].compute_ms).toBeCloseTo(detMs, 2);

    const byKey = await usageRows('key');
    const expected = [
      [hashSecret(keyA), 3, 6, 0],
      [hashSecret(keyB), 2, 1, 1],
    ].sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(byKey.map((r) => [r.group, r.requests, r.items, r.error_count])).toEqual(expected);
  });

  it('/v1/models/{m}/recent lists the recent inferences across workers', async () => {
    let recent: RecentJson | undefined;
    // The workers write these records off the request path.
    await waitFor(
      async () => {
        const res = await gw(keyA, '/v1/models/ident/recent?n=20');
        expect(res.status).toBe(200);
        recent = res.json<RecentJson>();
        return ['a-1', 'a-2'].every((id) => recent!.inferences.some((r) => r.id === id));
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'recent records of a-1 and a-2' },
    );
    expect(recent!.model).toBe('ident');
    expect(recent!.inferences.map((r) => r.id)).toEqual(['a-2', 'a-1']);
    expect(recent!.inferences.map((r) => r.version)).toEqual([1, 1]);
    for (const r of recent!.inferences) expect(['w1', 'w2']).toContain(r.worker);
    // The refused request never reached a worker.
    expect(recent!.errors).toEqual([]);
    const one = (await gw(keyA, '/v1/models/ident/recent?n=1')).json<RecentJson>();
    expect(one.inferences.map((r) => r.id)).toEqual(['a-2']);
    expect((await gw(keyA, '/v1/models/ghost/recent')).status).toBe(404);
    expect((await gw(keyA, '/v1/models/ident/recent?n=0')).status).toBe(400);
  });

  it('TELEMETRY_OPT_OUT=true: a gateway answers requests and queues no usage job', async () => {
    // With the sender stopped, whatever a gateway emits stays in the queue where we can see it.
    await stack.telemetry.stop(15_000);
    const before = await usageQueue.getJobCounts();
    expect(Object.values(before).every((n) => n === 0)).toBe(true);

    const keyC = (await new ApiKeyService(stack.prisma).create({ name: 'opted out' })).secret;
    optOut = spawnService(
      'gateway',
      await serviceEnv({
        ...stack.shared,
        MODEL_CACHE_DIR: path.join(stack.work, 'gateway-opt-out-cache'),
        TELEMETRY_OPT_OUT: 'true',
      }),
    );
    await optOut.waitForReady(60_000);
    const url = optOut.url;
    expect((await call(url, keyC, '/v2/models/ident/infer', ident([2, 4]))).status).toBe(200);
    const cls = await call(url, keyC, '/infer/classification', {
      model_id: 'cls',
      image: (await textPng('Hi')).toString('base64'),
    });
    expect(cls.status).toBe(200);
    expect((await call(url, keyC, '/v2/models/ident/infer', { inputs: [] })).status).toBe(400);
    // A stopping gateway sends what its emitter holds: after the exit nothing more can come.
    await optOut.stop(15_000);
    const after = await usageQueue.getJobCounts();
    expect(Object.values(after).every((n) => n === 0)).toBe(true);

    // The same observation sees the job of a gateway that does emit.
    expect((await gw(keyA, '/v2/models/ident/infer', ident([1, 4]))).status).toBe(200);
    let jobs: UsageEvent[] = [];
    await waitFor(
      async () => {
        jobs = (await usageQueue.getJobs(['waiting'])).flatMap(
          (j) => (j.data as UsageRecordsJobData).events,
        );
        return jobs.length > 0;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'the usage job of the emitting gateway' },
    );
    expect(jobs).toEqual([
      expect.objectContaining({ apiKeyHash: hashSecret(keyA), model: 'ident', items: 1 }),
    ]);
    const rowsOfC = await stack.prisma.usageAggregate.count({
      where: { apiKeyHash: hashSecret(keyC) },
    });
    expect(rowsOfC).toBe(0);
  });
});
