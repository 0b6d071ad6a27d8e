import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '@strata/api-keys';
import { QUEUE, bullPrefix, type InferJobData } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { buildInferRequestBody, parseInferResponseBody, type RawTensor } from '@strata/tensors';
import {
  buildAddModel,
  buildTwoInTwoOutModel,
  createTestDatabase,
  deleteRedisPrefix,
  testRedisPrefix,
  testRedisUrl,
  type TestDatabase,
} from '@strata/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  CodedFailure,
  jobInputs,
  ortHandler,
  startFakeWorker,
  type FakeWorker,
} from '../support/fake-worker';
import { startGatewayApp, type GatewayApp } from '../support/gateway-app';
import { jsonPost, request } from '../support/http-client';
import { registerVersion } from '../support/registry-fixture';

const TIMEOUT_MS = 1500;

function f32(name: string, shape: number[], values: number[]): RawTensor {
  return { name, datatype: 'FP32', shape, data: Buffer.from(new Float32Array(values).buffer) };
}
function i64(name: string, shape: number[], values: bigint[]): RawTensor {
  return { name, datatype: 'INT64', shape, data: Buffer.from(new BigInt64Array(values).buffer) };
}

describe('gateway queue hop (in process; fake worker on real Redis, Postgres)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let prefix: string;
  let cacheDir: string;
  let gw: GatewayApp;
  let worker: FakeWorker;
  let key: string;
  let redis: Redis;
  let queue: Queue;
  let queueConnection: Redis;
  let twoInTwoOut: Awaited<ReturnType<typeof ortHandler>>;

  const infer = (model: string, body: unknown, extra: { version?: string } = {}) =>
    jsonPost(
      `${gw.url}/v2/models/${model}${extra.version ? `/versions/${extra.version}` : ''}/infer`,
      key,
      body,
    );

  beforeAll(async () => {
    db = await createTestDatabase('gwq');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    prefix = testRedisPrefix('gwq');
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwq-'));
    const two = path.join(cacheDir, 'two.onnx');
    await fs.writeFile(two, buildTwoInTwoOutModel());
    twoInTwoOut = await ortHandler(two);
    await registerVersion(prisma, cacheDir, { model: 'two', weights: two });
    await registerVersion(prisma, cacheDir, { model: 'two', weights: two, alias: 'prod' });
    await registerVersion(prisma, cacheDir, {
      model: 'add',
      weights: buildAddModel({ shape: ['batch', 3] }),
    });
    gw = await startGatewayApp({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: prefix,
      MODEL_CACHE_DIR: cacheDir,
      S3_BUCKET: undefined,
      INFER_TIMEOUT_MS: String(TIMEOUT_MS),
      INFER_BLOB_THRESHOLD_BYTES: '64',
      INFER_MAX_QUEUE_DEPTH: '3',
      GATEWAY_MAX_BODY_BYTES: '64KiB',
      // Every request here must reach the (fake) worker: the prediction cache has its own tests.
      DISABLE_INFERENCE_CACHE: 'true',
    });
    key = (await new ApiKeyService(prisma).create({ name: 't', scopes: ['infer'] })).secret;
    worker = await startFakeWorker(prefix, twoInTwoOut.handler);
    redis = new Redis(testRedisUrl());
    queueConnection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    queue = new Queue(QUEUE.infer, { connection: queueConnection, prefix: bullPrefix(prefix) });
  });

  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    await queue?.close();
    queueConnection?.disconnect();
    redis?.disconnect();
    await twoInTwoOut?.release();
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    worker.handle(twoInTwoOut.handler);
    worker.jobs.length = 0;
  });

  it('answers v2 JSON inference with nested data, id, outputs selection and version aliases', async () => {
    const res = await infer('two', {
      id: 'req-1',
      inputs: [
        {
          name: 'a',
          datatype: 'FP32',
          shape: [2, 3],
          data: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        },
        { name: 'b', datatype: 'INT64', shape: [1, 2], data: [7, -8] },
      ],
      outputs: [{ name: 'negated' }],
      parameters: { note: 'kept' },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      model_name: 'two',
      model_version: '2',
      id: 'req-1',
      outputs: [{ name: 'negated', datatype: 'INT64', shape: [1, 2], data: [-7, 8] }],
    });
    const v1 = await infer(
      'two',
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
          { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
        ],
      },
      { version: '1' },
    );
    expect(v1.json<{ model_version: string }>().model_version).toBe('1');
    const prod = await infer(
      'two',
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
          { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
        ],
      },
      { version: 'prod' },
    );
    expect(prod.json<{ model_version: string; outputs: unknown[] }>()).toMatchObject({
      model_version: '2',
      outputs: [{ name: 'doubled', data: [2, 4, 6] }, { name: 'negated' }],
    });
  });

  it('sends tensors as raw little-endian bytes: base64 in the job, a Redis blob above the threshold', async () => {
    const a = f32(
      'a',
      [8, 3],
      Array.from({ length: 24 }, (_, i) => i),
    ); // 96 bytes > 64: blob
    const b = i64(
      'b',
      [8, 2],
      Array.from({ length: 16 }, (_, i) => BigInt(i)),
    ); // 128 bytes: blob too
    let seen: InferJobData | undefined;
    worker.handle(async (data, job) => {
      seen = data;
      return twoInTwoOut.handler(data, job);
    });
    const small = await infer('two', {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
      ],
    });
    expect(small.status).toBe(200);
    expect(seen?.inputs[0]).toEqual({
      name: 'a',
      datatype: 'FP32',
      shape: [1, 3],
      data: Buffer.from(new Float32Array([1, 2, 3]).buffer).toString('base64'),
    });
    expect(seen?.deadline).toBeGreaterThan(Date.now());
    expect(seen?.deadline).toBeLessThanOrEqual(Date.now() + TIMEOUT_MS);

    const body = buildInferRequestBody([a, b], {
      binaryInputs: true,
      parameters: { binary_data_output: true },
    });
    const res = await request(`${gw.url}/v2/models/two/infer`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(body.headerLength),
      },
      body: body.body,
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(
      seen?.inputs.every((t) => t.blobKey?.startsWith(`${prefix}:blob:`) && t.data === undefined),
    ).toBe(true);
    expect((await jobInputs(seen!)).map((t) => t.data)).toEqual([a.data, b.data]);
    const parsed = parseInferResponseBody(
      res.body,
      res.headers['inference-header-content-length'] as string,
    );
    expect(parsed.outputs[0].data).toEqual(
      Buffer.from(new Float32Array(Array.from({ length: 24 }, (_, i) => 2 * i)).buffer),
    );
  });

  it('keeps the meaning of worker failures', async () => {
    const body = {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
      ],
    };
    for (const [code, status] of [
      ['INVALID_INPUT', 400],
      ['NOT_FOUND', 404],
      ['UNAVAILABLE', 503],
      ['TIMEOUT', 504],
      ['INTERNAL', 500],
    ] as const) {
      worker.handle(async () => {
        throw new CodedFailure(code, `worker says ${code}`);
      });
      const res = await infer('two', body);
      expect([code, res.status, res.json()]).toEqual([
        code,
        status,
        { error: `worker says ${code}` },
      ]);
      if (status === 503) expect(res.headers['retry-after']).toBe('1');
    }
  });

  it('refuses bad input before anything is queued, each with a clear message', async () => {
    const ok = { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] };
    const cases: [unknown, number, RegExp][] = [
      ['{"inputs": [', 400, /JSON/],
      [
        { inputs: [ok, { name: 'zzz', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] },
        400,
        /input "zzz": unknown input/,
      ],
      [
        { inputs: [ok, { name: 'a', datatype: 'FP64', shape: [1, 3], data: [1, 2, 3] }] },
        400,
        /input "a": datatype FP32 expected, got FP64/,
      ],
      [
        { inputs: [ok, { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2] }] },
        400,
        /input "a"/,
      ],
      [
        { inputs: [ok, { name: 'a', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] },
        400,
        /shape \[1,4\] does not match the model.s \[-1,3\]/,
      ],
      [{ inputs: [ok] }, 400, /input "a": missing/],
      [
        { inputs: [ok, { name: 'a', datatype: 'FP32', shape: [100000000, 3], data: [] }] },
        413,
        /limit/,
      ],
      [
        {
          inputs: [ok, { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
          outputs: [{ name: 'nope' }],
        },
        400,
        /output "nope": unknown output/,
      ],
      [{ inputs: [] }, 400, /inputs must be a non-empty array/],
    ];
    for (const [body, status, message] of cases) {
      const res = await infer('two', body);
      expect([body, res.status]).toEqual([body, status]);
      expect(res.json<{ error: string }>().error).toMatch(message);
    }
    const big = await infer('two', {
      inputs: [ok, { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
      pad: 'x'.repeat(70 * 1024),
    });
    expect(big.status).toBe(413);
    expect(big.json()).toEqual({ error: expect.stringMatching(/too large/i) });
    expect((await infer('nope', { inputs: [ok] })).status).toBe(404);
    expect((await infer('two', { inputs: [ok] }, { version: '9' })).json()).toEqual({
      error: 'Unknown version 9 of model "two"',
    });
    expect((await infer('two', { inputs: [ok] }, { version: 'staging' })).status).toBe(404);
    expect(worker.jobs).toHaveLength(0);
  });

  it('answers 504 at INFER_TIMEOUT_MS, removes a job nobody took and deletes its blobs', async () => {
    // No worker at all: the job stays waiting (a paused BullMQ worker may still take one).
    await worker.close();
    const blobsBefore = await redis.keys(`${prefix}:blob:*`);
    try {
      const a = f32('a', [8, 3], new Array(24).fill(1));
      const b = i64('b', [1, 2], [1n, 2n]);
      const body = buildInferRequestBody([a, b]);
      const res = await infer('two', body.body.toString());
      expect(res.status).toBe(504);
      expect(res.json()).toEqual({
        error: `no answer from an inference worker within ${TIMEOUT_MS} ms`,
      });
      // Removal runs right after the answer.
      for (let i = 0; i < 50 && (await queue.getWaitingCount()) > 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await queue.getWaitingCount()).toBe(0);
      expect((await redis.keys(`${prefix}:blob:*`)).sort()).toEqual(blobsBefore.sort());
    } finally {
      worker = await startFakeWorker(prefix, twoInTwoOut.handler);
    }
  });

  it('refuses with 503 and Retry-After while the queue is deeper than INFER_MAX_QUEUE_DEPTH', async () => {
    await worker.close();
    const body = {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
      ],
    };
    try {
      for (let i = 0; i < 4; i++)
        await queue.add('run', {
          model: 'two',
          version: 1,
          inputs: [],
          deadline: Date.now() + 60_000,
        } as InferJobData);
      // The depth is sampled at most every 100 ms: wait for a fresh sample.
      await new Promise((r) => setTimeout(r, 150));
      const res = await infer('two', body);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json<{ error: string }>().error).toMatch(
        /the inference queue is full \(4 jobs waiting, limit 3\)/,
      );
    } finally {
      await queue.drain();
      worker = await startFakeWorker(prefix, twoInTwoOut.handler);
    }
    await new Promise((r) => setTimeout(r, 150));
    expect((await infer('two', body)).status).toBe(200);
  });

  it('exposes request, duration and queue-wait metrics', async () => {
    const text = (await request(`${gw.url}/metrics`)).body.toString();
    expect(text).toMatch(
      /strata_gateway_requests_total\{route="\/v2\/models\/:model\/infer",model="two",status="200",service="gateway"\} \d+/,
    );
    expect(text).toMatch(
      /strata_gateway_requests_total\{route="\/v2\/models\/:model\/infer",model="two",status="400",service="gateway"\}/,
    );
    expect(text).toMatch(
      /strata_gateway_request_duration_seconds_bucket\{le="0.005",service="gateway",route="\/v2\/models\/:model\/infer",model="two",status="200"\}/,
    );
    expect(text).toMatch(
      /strata_gateway_queue_wait_seconds_count\{service="gateway",model="two"\} [1-9]/,
    );
    expect(text).toMatch(
      /strata_gateway_infer_rejected_total\{reason="queue_full",service="gateway"\} [1-9]/,
    );
    // Unknown model names never become label values.
    expect(text).not.toMatch(/model="nope"/);
  });
});
