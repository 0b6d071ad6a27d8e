import { appendFileSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseManifest, s3Keys, s3VersionPrefix } from '@strata/artifact-layout';
import { RedisKeys } from '@strata/cache-keys';
import { deleteRedisPrefix, freePort, testRedisPrefix, testRedisUrl } from '@strata/testing';
import { Redis } from 'ioredis';
import {
  InvalidArtifactError,
  ModelAdminService,
  ModelPublisher,
  ModelRegistryRepository,
  PublishError,
  RegistryEvents,
  S3StoreError,
  VersionExistsError,
  VersionNotFoundError,
  type PublishProgress,
  type RegistryEvent,
} from '../../src';
import {
  CLS_MODEL,
  createTestDb,
  modelDir,
  readAll,
  sha256,
  sha256File,
  startTestS3,
  writeRandomFile,
  type TestDb,
  type TestS3,
} from './support';

const PREFIX = 'artifacts';

describe('ModelPublisher (Postgres + s3rver + ONNX Runtime)', () => {
  let db: TestDb;
  let s3: TestS3;
  let repo: ModelRegistryRepository;
  let events: RegistryEvents;
  let subscriber: Redis;
  let redisPrefix: string;
  const received: RegistryEvent[] = [];
  const dirs: string[] = [];

  const publisher = (store = s3.store()) =>
    new ModelPublisher({ repository: repo, store, s3Prefix: PREFIX, events });
  const dir = async (extra?: Record<string, string | Buffer>) => {
    const d = await modelDir(extra);
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    [db, s3] = await Promise.all([createTestDb(), startTestS3()]);
    repo = new ModelRegistryRepository(db.prisma);
    redisPrefix = testRedisPrefix('registry');
    events = RegistryEvents.connect(testRedisUrl(), redisPrefix);
    subscriber = new Redis(testRedisUrl());
    await subscriber.subscribe(new RedisKeys(redisPrefix).eventsChannel());
    subscriber.on('message', (_channel, message) => received.push(JSON.parse(message)));
  });

  afterAll(async () => {
    await events.close();
    subscriber.disconnect();
    await deleteRedisPrefix(redisPrefix);
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
    await Promise.all([db.drop(), s3.stop()]);
  });

  it('publishes the PaddleOCR classifier: objects byte-identical, manifest, ready, latest, event', async () => {
    const source = await dir({ 'class_names.txt': '0\n180\n' });
    const store = s3.store();
    const progress: PublishProgress[] = [];
    const result = await publisher(store).publish(source, {
      model: 'ocr-cls',
      onProgress: (e) => progress.push(e),
    });

    expect(result.version).toBe(1);
    expect(result.workspace).toBe('default');
    expect(result.generatedModelType).toBe(true);
    expect(result.signature).toEqual({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
      outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }],
    });
    // The user's directory is never modified.
    expect((await fs.readdir(source)).sort()).toEqual(['class_names.txt', 'weights.onnx']);

    const keys = s3Keys(PREFIX, 'ocr-cls', 1);
    expect((await store.listKeys(keys.versionPrefix)).sort()).toEqual(
      [keys.classNames, keys.manifest, keys.modelType, keys.weights].sort(),
    );
    for (const name of ['weights.onnx', 'class_names.txt']) {
      const { body } = await store.getStream(keys.file(name));
      expect(sha256(await readAll(body))).toBe(await sha256File(path.join(source, name)));
    }
    expect(await sha256File(CLS_MODEL)).toBe(
      sha256(await readAll((await store.getStream(keys.weights)).body)),
    );

    const manifest = parseManifest(await readAll((await store.getStream(keys.manifest)).body), {
      expect: { model: 'ocr-cls', version: 1 },
    });
    const weights = await fs.stat(path.join(source, 'weights.onnx'));
    expect(manifest.files.map((f) => f.path)).toEqual([
      'class_names.txt',
      'model_type.json',
      'weights.onnx',
    ]);
    expect(manifest.files.find((f) => f.path === 'weights.onnx')).toEqual({
      path: 'weights.onnx',
      size: weights.size,
      sha256: await sha256File(CLS_MODEL),
    });
    const modelType = JSON.parse(
      (await readAll((await store.getStream(keys.modelType)).body)).toString('utf8'),
    );
    expect(modelType).toEqual({
      task_type: 'unknown',
      inputs: result.signature.inputs,
      outputs: result.signature.outputs,
    });
    const modelTypeEntry = manifest.files.find((f) => f.path === 'model_type.json');
    expect(modelTypeEntry?.sha256).toBe(
      sha256(await readAll((await store.getStream(keys.modelType)).body)),
    );

    const resolved = await repo.resolve('ocr-cls');
    expect(resolved).toMatchObject({
      version: 1,
      status: 'ready',
      storagePrefix: s3VersionPrefix(PREFIX, 'ocr-cls', 1),
      manifestDigest: result.manifestDigest,
      sizeBytes: manifest.files.reduce((n, f) => n + f.size, 0),
      originUrl: null,
      aliases: ['latest'],
      via: { kind: 'alias', alias: 'latest' },
    });
    expect(resolved.metadata).toEqual({ taskType: 'unknown', ...result.signature });

    const types = progress.map((p) => p.type);
    expect(types[0]).toBe('prepared');
    expect(types).toContain('version-created');
    expect(progress.filter((p) => p.type === 'file-uploaded').map((p) => p.file)).toEqual([
      'class_names.txt',
      'model_type.json',
      'weights.onnx',
      'manifest.json',
    ]);
    expect(types[types.length - 1]).toBe('published');

    await waitUntil(() =>
      received.some((e) => e.type === 'model-published' && e.model === 'ocr-cls'),
    );
    expect(received).toEqual(
      expect.arrayContaining([
        { type: 'model-published', model: 'ocr-cls', version: 1 },
        { type: 'alias-moved', model: 'ocr-cls', alias: 'latest', version: 1, previous: null },
      ]),
    );
  });

  it('keeps a user model_type.json as it is and takes its task type', async () => {
    const userDoc = '{"task_type": "classification", "note": "mine"}\n';
    const source = await dir({ 'model_type.json': userDoc });
    const store = s3.store();
    const result = await publisher(store).publish(source, { model: 'user-type', alias: 'prod' });
    expect(result.taskType).toBe('classification');
    expect(result.generatedModelType).toBe(false);
    const body = await readAll(
      (await store.getStream(s3Keys(PREFIX, 'user-type', 1).modelType)).body,
    );
    expect(body.toString('utf8')).toBe(userDoc);
    expect((await repo.resolve('user-type', 'prod')).version).toBe(1);
    expect((await repo.showModel('user-type')).taskType).toBe('classification');

    // A later version without model_type.json keeps the model's task type.
    const plain = await publisher(store).publish(await dir(), { model: 'user-type' });
    expect(plain).toMatchObject({
      version: 2,
      taskType: 'classification',
      generatedModelType: true,
    });
    expect((await repo.showModel('user-type')).taskType).toBe('classification');
  });

  it('ModelAdminService: deletions bump generations, emit events and remove S3 objects', async () => {
    const store = s3.store();
    const admin = new ModelAdminService({ repository: repo, store, s3Prefix: PREFIX, events });
    const source = await dir();
    await publisher(store).publish(source, { model: 'adm' });
    await publisher(store).publish(source, { model: 'adm', alias: 'prod' });
    expect(await admin.setAlias('adm', 'prod', 1)).toEqual({
      alias: 'prod',
      version: 1,
      previous: 2,
      eventsPublished: true,
    });

    const deleted = await admin.deleteVersion('adm', 2);
    expect(deleted).toMatchObject({ latest: 1, removedAliases: [], eventsPublished: true });
    expect(deleted.storage).toEqual({
      ok: true,
      prefix: s3VersionPrefix(PREFIX, 'adm', 2),
      deletedObjects: 3,
    });
    expect(await store.listKeys(s3VersionPrefix(PREFIX, 'adm', 2))).toEqual([]);
    const keys = new RedisKeys(redisPrefix);
    const reader = new Redis(testRedisUrl());
    expect(await reader.get(keys.generation('adm', 2))).toBe('1');

    const gone = await admin.deleteModel('adm', { force: true });
    expect(gone).toMatchObject({
      versions: [1, 2],
      aliases: ['latest', 'prod'],
      eventsPublished: true,
    });
    expect(await store.listKeys(`${PREFIX}/models/adm/`)).toEqual([]);
    expect(await reader.get(keys.generation('adm', 1))).toBe('1');
    expect(await reader.get(keys.generation('adm', 2))).toBe('2');
    reader.disconnect();

    await waitUntil(() => received.some((e) => e.type === 'model-deleted'));
    expect(received.filter((e) => e.model === 'adm').slice(-4)).toEqual([
      { type: 'alias-moved', model: 'adm', alias: 'prod', version: 1, previous: 2 },
      { type: 'version-deleted', model: 'adm', version: 2 },
      { type: 'alias-moved', model: 'adm', alias: 'latest', version: 1, previous: 2 },
      { type: 'model-deleted', model: 'adm', versions: [1, 2] },
    ]);
  });

  it('second publish gets version 2 and moves latest; an existing version number is refused', async () => {
    const source = await dir();
    await publisher().publish(source, {
      model: 'twice',
      originUrl: 'https://models.example/twice/1',
    });
    const second = await publisher().publish(source, { model: 'twice' });
    expect(second.version).toBe(2);
    expect((await repo.resolve('twice')).version).toBe(2);
    expect((await repo.resolve('twice', 1)).originUrl).toBe('https://models.example/twice/1');

    await expect(publisher().publish(source, { model: 'twice', version: 2 })).rejects.toThrow(
      VersionExistsError,
    );
    await expect(publisher().publish(source, { model: 'twice', version: '2' })).rejects.toThrow(
      /version exists/,
    );
    const third = await publisher().publish(source, { model: 'twice', version: 7 });
    expect(third.version).toBe(7);
    expect((await repo.resolve('twice')).version).toBe(7);
    expect((await publisher().publish(source, { model: 'twice' })).version).toBe(8);
  });

  it('two concurrent publishes of one model get versions 1 and 2 without an error', async () => {
    const [a, b] = await Promise.all([dir(), dir()]);
    const results = await Promise.all([
      publisher().publish(a, { model: 'race' }),
      publisher().publish(b, { model: 'race' }),
    ]);
    expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
    const model = await repo.showModel('race');
    expect(model.versions.map((v) => [v.version, v.status])).toEqual([
      [1, 'ready'],
      [2, 'ready'],
    ]);
    expect((await repo.resolve('race')).version).toBe(2);
  });

  it('refuses a directory that is not publishable before writing anything', async () => {
    const notOnnx = await dir();
    await fs.writeFile(path.join(notOnnx, 'weights.onnx'), 'this is not a protobuf');
    await expect(publisher().publish(notOnnx, { model: 'bad-onnx' })).rejects.toThrow(
      /weights\.onnx is not an ONNX model/,
    );

    const noWeights = await dir();
    await fs.rm(path.join(noWeights, 'weights.onnx'));
    await fs.writeFile(path.join(noWeights, 'class_names.txt'), 'a\n');
    await expect(publisher().publish(noWeights, { model: 'no-weights' })).rejects.toThrow(
      /weights\.onnx is missing/,
    );

    await expect(
      publisher().publish(path.join(noWeights, 'nope'), { model: 'no-dir' }),
    ).rejects.toThrow(/does not exist/);

    const withSubdir = await dir();
    await fs.mkdir(path.join(withSubdir, 'nested'));
    await fs.symlink(CLS_MODEL, path.join(withSubdir, 'link.onnx'));
    await fs.writeFile(path.join(withSubdir, 'Bad Name.txt'), 'x');
    const err = await publisher()
      .publish(withSubdir, { model: 'bad-dir' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArtifactError);
    expect((err as Error).message).toMatch(/"nested" is a subdirectory/);
    expect((err as Error).message).toMatch(/"link.onnx" is a symlink/);
    expect((err as Error).message).toMatch(/"Bad Name.txt" is not an allowed file name/);

    const badType = await dir({ 'model_type.json': '{not json' });
    await expect(publisher().publish(badType, { model: 'bad-type' })).rejects.toThrow(
      /model_type\.json is not valid JSON/,
    );

    for (const name of ['bad-onnx', 'no-weights', 'no-dir', 'bad-dir', 'bad-type'])
      expect(await repo.getModel(name)).toBeNull();
    expect(await s3.store().listKeys(`${PREFIX}/models/bad-`)).toEqual([]);
  });

  it('refuses invalid names before touching Postgres or S3', async () => {
    const source = await dir();
    const unreachable = s3.store({ endpoint: `http://127.0.0.1:${await freePort()}` });
    for (const model of ['../etc', 'a/b/c', '', 'x'.repeat(300), 'Upper'])
      await expect(publisher(unreachable).publish(source, { model })).rejects.toThrow(
        /Invalid model name/,
      );
    await expect(
      publisher(unreachable).publish(source, { model: 'ok', alias: '12' }),
    ).rejects.toThrow(/Invalid alias/);
    await expect(
      publisher(unreachable).publish(source, { model: 'ok', alias: 'latest' }),
    ).rejects.toThrow(/latest/);
    await expect(
      publisher(unreachable).publish(source, { model: 'ok', version: '03' }),
    ).rejects.toThrow(/Invalid version/);
    await expect(
      publisher(unreachable).publish(source, { model: 'ok', originUrl: 'ftp://x/y' }),
    ).rejects.toThrow(/only http: and https:/);
    expect(await repo.getModel('ok')).toBeNull();
  });

  it('S3 unreachable: a clear error naming the endpoint and bucket, and no row at all', async () => {
    const port = await freePort();
    const store = s3.store({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 2 });
    const err = await publisher(store)
      .publish(await dir(), { model: 'no-s3' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3StoreError);
    expect((err as S3StoreError).kind).toBe('unreachable');
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect((err as Error).message).toContain('strata-test');
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect(await repo.getModel('no-s3')).toBeNull();
  });

  it('a file failing midway: uploaded objects removed, version failed, latest unchanged', async () => {
    const source = await dir({ 'class_names.txt': 'a\nb\n' });
    const store = s3.store();
    await publisher(store).publish(source, { model: 'midway' });

    // weights.onnx grows after it was hashed, right after the first file went up.
    const err = await publisher(store)
      .publish(source, {
        model: 'midway',
        onProgress: (e) => {
          if (e.type === 'file-uploaded' && e.file === 'class_names.txt')
            appendFileSync(path.join(source, 'weights.onnx'), Buffer.alloc(10));
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishError);
    const message = (err as Error).message;
    expect(message).toContain('midway/2');
    expect(message).toMatch(/while uploading (weights\.onnx|model_type\.json)/);
    expect(message).toMatch(/changed after it was hashed/);
    expect(message).toMatch(/Uploaded objects were removed/);

    expect(await store.listKeys(s3VersionPrefix(PREFIX, 'midway', 2))).toEqual([]);
    expect((await repo.getVersion('midway', 2))?.status).toBe('failed');
    await expect(repo.resolve('midway', 2)).rejects.toThrow(VersionNotFoundError);
    expect((await repo.resolve('midway')).version).toBe(1);
    // Version 1 is untouched.
    expect((await store.listKeys(s3VersionPrefix(PREFIX, 'midway', 1))).length).toBe(4);
  });

  it('s3rver stopped during a large multipart upload: no ready version, no manifest', async () => {
    const source = await dir();
    await writeRandomFile(path.join(source, 'big.bin'), 96 * 1024 * 1024);
    const store = s3.store({ maxAttempts: 2 });
    let stopping: Promise<void> | undefined;
    const err = await publisher(store)
      .publish(source, {
        model: 'interrupted',
        onProgress: (e) => {
          if (e.type === 'file-progress' && e.file === 'big.bin' && e.loaded > 0)
            stopping ??= s3.s3.stop();
        },
      })
      .catch((e: unknown) => e);
    await stopping;
    expect(stopping).toBeDefined();
    expect(err).toBeInstanceOf(PublishError);
    const message = (err as Error).message;
    expect(message).toContain('interrupted/1');
    expect(message).toContain('big.bin');
    expect(message).toMatch(/S3 is unreachable/);

    const version = await repo.getVersion('interrupted', 1);
    expect(version?.status).toBe('failed');
    await expect(repo.resolve('interrupted')).rejects.toThrow(/no ready version/);

    await s3.restart();
    const keys = s3Keys(PREFIX, 'interrupted', 1);
    expect(await s3.store().head(keys.manifest)).toBeNull();
    expect(await s3.store().head(keys.file('big.bin'))).toBeNull();
    // Cleanup could not reach S3; the error says so, and a later cleanup removes the rest.
    expect(message).toMatch(
      /objects may remain under s3:\/\/strata-test\/artifacts\/models\/interrupted\/1\//,
    );
    await s3.store().deletePrefix(keys.versionPrefix);
    expect(await s3.store().listKeys(keys.versionPrefix)).toEqual([]);
  });
});

async function waitUntil(probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
