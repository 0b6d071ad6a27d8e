import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { RedisKeys } from '@strata/cache-keys';
import { deleteRedisPrefix, freePort, testRedisPrefix, testRedisUrl } from '@strata/testing';
import { Redis } from 'ioredis';
import {
  HttpOriginSource,
  OriginFetchError,
  RegistryEvents,
  S3StoreError,
  prepareArtifact,
  type RegistryEvent,
} from '../../src';
import {
  BUCKET,
  CLS_MODEL,
  modelDir,
  readAll,
  sha256,
  sha256File,
  startTestS3,
  tempDir,
  writeRandomFile,
  type TestS3,
} from './support';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );
}

describe('S3ArtifactStore (s3rver)', () => {
  let s3: TestS3;
  let work: string;
  beforeAll(async () => {
    s3 = await startTestS3();
    work = await tempDir('store');
  });
  afterAll(async () => {
    await s3.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('uploads (multipart above 8 MiB), heads, streams ranges and deletes a prefix', async () => {
    const store = s3.store();
    const big = path.join(work, 'big.bin');
    await writeRandomFile(big, 20 * 1024 * 1024 + 123);
    const seen: number[] = [];
    await store.uploadFile('p/one/big.bin', big, { onProgress: (p) => seen.push(p.loaded) });
    await store.uploadFile('p/one/weights.onnx', CLS_MODEL);
    await store.uploadBuffer('p/two/x.txt', Buffer.from('hello'));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[seen.length - 1]).toBe(20 * 1024 * 1024 + 123);

    expect((await store.head('p/one/big.bin'))?.size).toBe(20 * 1024 * 1024 + 123);
    expect(await store.head('p/one/missing')).toBeNull();
    const whole = await readAll((await store.getStream('p/one/big.bin')).body);
    expect(sha256(whole)).toBe(await sha256File(big));
    expect(sha256(await readAll((await store.getStream('p/one/weights.onnx')).body))).toBe(
      await sha256File(CLS_MODEL),
    );
    const ranged = await store.getStream('p/one/big.bin', { range: { start: 10, end: 19 } });
    expect(ranged.contentLength).toBe(10);
    expect(await readAll(ranged.body)).toEqual(whole.subarray(10, 20));
    const tail = await store.getStream('p/one/big.bin', { range: { start: whole.length - 5 } });
    expect(await readAll(tail.body)).toEqual(whole.subarray(whole.length - 5));

    expect(await store.deletePrefix('p/one/')).toBe(2);
    expect(await store.listKeys('p/')).toEqual(['p/two/x.txt']);
    await expect(store.deletePrefix('p')).rejects.toThrow(/must end with '\/'/);
  });

  it('typed errors: NoSuchKey, NoSuchBucket, unreachable, each naming bucket and key', async () => {
    const missingKey = await failure(s3.store().getStream('nope/key'));
    expect(missingKey).toBeInstanceOf(S3StoreError);
    expect((missingKey as S3StoreError).kind).toBe('no-such-key');
    expect(missingKey.message).toContain(`s3://${BUCKET}/nope/key`);

    const noBucket = s3.store({ bucket: 'no-such-bucket' });
    const missingBucket = (await failure(noBucket.getStream('k'))) as S3StoreError;
    expect(missingBucket.kind).toBe('no-such-bucket');
    expect(missingBucket.message).toContain('s3://no-such-bucket/k');
    expect(((await failure(noBucket.checkBucket())) as S3StoreError).kind).toBe('no-such-bucket');

    const port = await freePort();
    const down = s3.store({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    for (const op of [
      down.head('a/b'),
      down.getStream('a/b'),
      down.uploadBuffer('a/b', Buffer.from('x')),
    ]) {
      const err = (await failure(op)) as S3StoreError;
      expect(err.kind).toBe('unreachable');
      expect(err.message).toContain(`s3://${BUCKET}/a/b`);
      expect(err.message).toContain(`http://127.0.0.1:${port}`);
    }
  });

  it('typed errors: access denied and 5xx from an S3-speaking server', async () => {
    const answers: Record<string, [number, string]> = {
      '/b/denied': [403, 'AccessDenied'],
      '/b/broken': [503, 'SlowDown'],
      '/b/boom': [500, 'InternalError'],
    };
    const server = createServer((req, res) => {
      const [status, code] = answers[new URL(req.url ?? '/', 'http://x').pathname] ?? [
        404,
        'NoSuchKey',
      ];
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} says no</Message></Error>`,
      );
    });
    const endpoint = await listen(server);
    try {
      const store = s3.store({ endpoint, bucket: 'b', maxAttempts: 2 });
      const denied = (await failure(store.getStream('denied'))) as S3StoreError;
      expect(denied.kind).toBe('access-denied');
      expect(denied.message).toContain('s3://b/denied');
      expect(denied.statusCode).toBe(403);
      const slow = (await failure(store.getStream('broken'))) as S3StoreError;
      expect(slow.kind).toBe('server-error');
      expect(slow.statusCode).toBe(503);
      expect(((await failure(store.getStream('boom'))) as S3StoreError).kind).toBe('server-error');
      expect(((await failure(store.head('denied'))) as S3StoreError).kind).toBe('access-denied');
    } finally {
      await close(server);
    }
  });
});

describe('HttpOriginSource (real HTTP)', () => {
  let server: Server;
  let base: string;
  let stalledBody: (() => void) | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/v/weights.onnx') {
        void fs.readFile(CLS_MODEL).then((data) => {
          res.writeHead(200, { 'content-length': data.length, etag: '"abc"' });
          res.end(data);
        });
      } else if (req.url === '/v/class_names.txt') {
        res.writeHead(500);
        res.end('oops');
      } else if (req.url === '/slow/weights.onnx') {
        // Never answers.
      } else if (req.url === '/stall/weights.onnx') {
        res.writeHead(200, { 'content-length': 100 });
        res.write(Buffer.alloc(10));
        stalledBody = () => res.destroy();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    base = await listen(server);
  });
  afterAll(async () => {
    stalledBody?.();
    await close(server);
  });

  it('streams a file from ${originUrl}/${file}', async () => {
    const origin = new HttpOriginSource();
    const got = await origin.getStream(`${base}/v/`, 'weights.onnx');
    expect(got.url).toBe(`${base}/v/weights.onnx`);
    expect(got.etag).toBe('"abc"');
    const data = await readAll(got.body);
    expect(got.contentLength).toBe(data.length);
    expect(sha256(data)).toBe(await sha256File(CLS_MODEL));
  });

  it('clear errors: 404, 5xx, unreachable, header timeout, idle body, bad names and URLs', async () => {
    const origin = new HttpOriginSource({ headersTimeoutMs: 300, idleTimeoutMs: 300 });
    const notFound = (await failure(
      origin.getStream(`${base}/v`, 'model_type.json'),
    )) as OriginFetchError;
    expect(notFound.kind).toBe('not-found');
    expect(notFound.message).toBe(
      `HTTP origin GET ${base}/v/model_type.json failed: HTTP 404 Not Found`,
    );
    const broken = (await failure(
      origin.getStream(`${base}/v`, 'class_names.txt'),
    )) as OriginFetchError;
    expect(broken.kind).toBe('http-status');
    expect(broken.status).toBe(500);

    const port = await freePort();
    const down = (await failure(
      origin.getStream(`http://127.0.0.1:${port}/v`, 'weights.onnx'),
    )) as OriginFetchError;
    expect(down.kind).toBe('unreachable');
    expect(down.message).toContain('ECONNREFUSED');

    const slow = (await failure(
      origin.getStream(`${base}/slow`, 'weights.onnx'),
    )) as OriginFetchError;
    expect(slow.kind).toBe('timeout');

    const stalled = await origin.getStream(`${base}/stall`, 'weights.onnx');
    const idle = (await failure(readAll(stalled.body))) as OriginFetchError;
    expect(idle).toBeInstanceOf(OriginFetchError);
    expect(idle.kind).toBe('timeout');

    await expect(origin.getStream(base, '../etc/passwd')).rejects.toThrow(
      /Invalid artifact file name/,
    );
    await expect(origin.getStream('file:///etc', 'weights.onnx')).rejects.toThrow(/only http/);
    await expect(origin.getStream('not a url', 'weights.onnx')).rejects.toThrow(/not a valid URL/);
  });
});

describe('RegistryEvents (Redis)', () => {
  it('publishes JSON events on the events channel; a down Redis is reported, not thrown', async () => {
    const prefix = testRedisPrefix('events');
    const sub = new Redis(testRedisUrl());
    const got: RegistryEvent[] = [];
    await sub.subscribe(new RedisKeys(prefix).eventsChannel());
    sub.on('message', (_c, m) => got.push(JSON.parse(m)));
    const events = RegistryEvents.connect(testRedisUrl(), prefix);
    try {
      expect(await events.publish({ type: 'model-published', model: 'm', version: 1 })).toBe(true);
      expect(await events.bumpGeneration('m', 1)).toBe(true);
      expect(await events.bumpGeneration('m', 1)).toBe(true);
      const reader = new Redis(testRedisUrl());
      expect(await reader.get(new RedisKeys(prefix).generation('m', 1))).toBe('2');
      reader.disconnect();
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual([{ type: 'model-published', model: 'm', version: 1 }]);
    } finally {
      await events.close();
      sub.disconnect();
      await deleteRedisPrefix(prefix);
    }

    const warnings: string[] = [];
    const down = RegistryEvents.connect(`redis://127.0.0.1:${await freePort()}`, prefix, {
      log: (_level, message) => warnings.push(message),
    });
    expect(await down.publish({ type: 'version-deleted', model: 'm', version: 2 })).toBe(false);
    expect(warnings[0]).toMatch(/Could not publish the version-deleted event of model "m"/);
    await down.close();
  });

  it("invalidates the model's metadata in Redis before broadcasting: epoch + named entries", async () => {
    const prefix = testRedisPrefix('events');
    const keys = new RedisKeys(prefix);
    const redis = new Redis(testRedisUrl());
    const events = RegistryEvents.connect(testRedisUrl(), prefix);
    const seed = () =>
      redis.mset(
        keys.modelMeta('m'),
        'x',
        keys.alias('m', 'prod'),
        'x',
        keys.alias('m', 'latest'),
        'x',
        keys.versionMeta('m', 3),
        'x',
        keys.versionMeta('m', 4),
        'x',
      );
    const present = async () => {
      const all = {
        model: keys.modelMeta('m'),
        prod: keys.alias('m', 'prod'),
        latest: keys.alias('m', 'latest'),
        v3: keys.versionMeta('m', 3),
        v4: keys.versionMeta('m', 4),
      };
      const out: string[] = [];
      for (const [name, key] of Object.entries(all)) if (await redis.exists(key)) out.push(name);
      return out;
    };
    try {
      await seed();
      await events.publish({
        type: 'alias-moved',
        model: 'm',
        alias: 'prod',
        version: 4,
        previous: 3,
      });
      expect(await redis.get(keys.metaEpoch('m'))).toBe('1');
      expect(await present()).toEqual(['latest', 'v3', 'v4']);

      await seed();
      await events.publish({ type: 'version-deleted', model: 'm', version: 3 });
      expect(await present()).toEqual(['prod', 'latest', 'v4']);

      await seed();
      await events.publish({ type: 'model-published', model: 'm', version: 5 });
      expect(await present()).toEqual(['prod', 'latest', 'v3', 'v4']);

      await seed();
      await events.publish({ type: 'model-deleted', model: 'm', versions: [3, 4] });
      expect(await present()).toEqual(['prod', 'latest']);
      expect(await redis.get(keys.metaEpoch('m'))).toBe('4');
      // another model's epoch is its own
      expect(await redis.get(keys.metaEpoch('n'))).toBeNull();
    } finally {
      await events.close();
      redis.disconnect();
      await deleteRedisPrefix(prefix);
    }
  });
});

describe('prepareArtifact (real files, real ONNX Runtime)', () => {
  it('reads the signature of the PaddleOCR det and rec models', async () => {
    const assets = path.dirname(CLS_MODEL);
    const dir = await modelDir();
    try {
      await fs.copyFile(
        path.join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
        path.join(dir, 'weights.onnx'),
      );
      await fs.copyFile(path.join(assets, 'ppocr_keys_v1.txt'), path.join(dir, 'class_names.txt'));
      const prepared = await prepareArtifact(dir, { model: 'rec', taskType: 'ocr-recognition' });
      expect(prepared.signature).toEqual({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }],
        outputs: [{ name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] }],
      });
      expect(prepared.files.map((f) => f.path)).toEqual([
        'class_names.txt',
        'model_type.json',
        'weights.onnx',
      ]);
      expect(prepared.taskType).toBe('ocr-recognition');
      await fs.writeFile(path.join(dir, 'manifest.json'), '{}');
      expect((await prepareArtifact(dir, { model: 'rec' })).ignored).toEqual(['manifest.json']);
      await fs.writeFile(path.join(dir, 'model_type.json'), '{"task_type":"a"}');
      await expect(prepareArtifact(dir, { model: 'rec', taskType: 'b' })).rejects.toThrow(
        /conflicts with task_type "a"/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
