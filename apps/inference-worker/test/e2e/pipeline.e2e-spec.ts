import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  QUEUE,
  RedisKeys,
  bullPrefix,
  typedProducer,
  type InferJobResult,
  type TypedProducer,
} from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '@strata/embedded-s3';
import { ModelPublisher, ModelRegistryRepository, S3ArtifactStore } from '@strata/model-registry';
import {
  createTestDatabase,
  deleteRedisPrefix,
  serviceEnv,
  spawnService,
  testRedisPrefix,
  testRedisClient,
  type RedisClient,
  uniqueId,
  waitFor,
  type SpawnedService,
  type TestDatabase,
} from '@strata/testing';
import { Queue, QueueEvents } from 'bullmq';
import { DirectOrt, f32Tensor, outputBytes } from '../support/direct-ort';
import { CLS_OUT, REAL_MODELS, REC_OUT, randomF32 } from '../support/real-models';

const BUCKET = 'strata-iw-e2e';
const S3_PREFIX = 'e2e';

// The whole path as processes: the classifier and recogniser published to s3rver + Postgres,
// a model-loader and inference-workers as child processes sharing one cache directory, and a
// producer adding `infer` jobs the way the gateway does.
describe('inference-worker with the model-loader (processes)', () => {
  const prefix = testRedisPrefix('iw-e2e');
  const keys = new RedisKeys(prefix);
  let s3: EmbeddedS3;
  let db: TestDatabase;
  let prisma: PrismaClient;
  let store: S3ArtifactStore;
  let cacheDir: string;
  let srcDir: string;
  let shared: Record<string, string>;
  let loader: SpawnedService;
  const workers = new Map<string, SpawnedService>();
  let redis: RedisClient;
  let eventsConnection: RedisClient;
  let queue: Queue;
  let events: QueueEvents;
  let producer: TypedProducer<'infer'>;
  let cls: DirectOrt;

  async function startWorker(
    id: string,
    extra: Record<string, string> = {},
  ): Promise<SpawnedService> {
    const env = await serviceEnv({ ...shared, WORKER_ID: id, ...extra });
    const w = spawnService('inference-worker', env);
    workers.set(id, w);
    await w.waitForReady(60_000);
    return w;
  }

  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), 'strata-iw-e2e-cache-'));
    srcDir = await mkdtemp(path.join(tmpdir(), 'strata-iw-e2e-src-'));
    [s3, db] = await Promise.all([
      startEmbeddedS3({ directory: path.join(srcDir, 's3'), port: 0, buckets: [BUCKET] }),
      createTestDatabase('iw_e2e'),
    ]);
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 2 });
    store = new S3ArtifactStore({
      bucket: BUCKET,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...EMBEDDED_S3_CREDENTIALS },
    });
    const publisher = new ModelPublisher({
      repository: new ModelRegistryRepository(prisma),
      store,
      s3Prefix: S3_PREFIX,
    });
    for (const [model, file] of [
      ['cls', REAL_MODELS.classifier],
      ['rec', REAL_MODELS.recogniser],
    ] as const) {
      const dir = path.join(srcDir, model);
      await mkdir(dir, { recursive: true });
      await copyFile(file, path.join(dir, 'weights.onnx'));
      await publisher.publish(dir, { model, taskType: 'classification' });
    }

    shared = {
      REDIS_KEY_PREFIX: prefix,
      DATABASE_URL: db.url,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: BUCKET,
      S3_PREFIX,
      MODEL_CACHE_DIR: cacheDir,
      CACHE_DOMAIN: 'e2e',
      ORT_INTRA_OP_THREADS: '1',
      // A dead worker's job is taken over after the lock lapses and the next stalled check. Not
      // shorter: a live worker must renew its locks (every half lock) even on 2 busy cores, and
      // it cannot while session.run holds its thread: the recogniser run of the SIGKILL test
      // took over 4 s on a loaded machine once (2026-12-07), so the survivor's lock lapsed too
      // and BullMQ failed the job as stalled twice.
      INFER_JOB_LOCK_MS: '15000',
      INFER_STALLED_INTERVAL_MS: '1000',
    };
    loader = spawnService('model-loader', await serviceEnv(shared));
    await loader.waitForReady(60_000);

    redis = testRedisClient({ maxRetriesPerRequest: null });
    eventsConnection = redis.duplicate();
    queue = new Queue(QUEUE.infer, { connection: redis, prefix: bullPrefix(prefix) });
    events = new QueueEvents(QUEUE.infer, {
      connection: eventsConnection,
      prefix: bullPrefix(prefix),
    });
    queue.setMaxListeners(200);
    events.setMaxListeners(200);
    await events.waitUntilReady();
    producer = typedProducer('infer', queue);
    cls = await DirectOrt.open(REAL_MODELS.classifier);
  });

  afterAll(async () => {
    await Promise.allSettled([...workers.values()].map((w) => w.stop(10_000)));
    await loader?.stop(10_000);
    await cls?.release();
    await events?.close();
    await queue?.close();
    eventsConnection?.disconnect();
    redis?.disconnect();
    store?.destroy();
    await prisma?.$disconnect();
    await Promise.allSettled([s3?.stop(), db?.drop(), deleteRedisPrefix(prefix)]);
    await rm(cacheDir, { recursive: true, force: true });
    await rm(srcDir, { recursive: true, force: true });
  });

  it('answers run jobs for a published model it had never seen, exactly as onnxruntime-node', async () => {
    const w1 = await startWorker('w1');
    const inputs = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => [
      f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, seed)),
    ]);
    const jobs = await Promise.all(
      inputs.map((i) =>
        producer.add('run', { model: 'cls', version: 1, inputs: i, deadline: Date.now() + 60_000 }),
      ),
    );
    const results = (await Promise.all(
      jobs.map((j) => j.waitUntilFinished(events, 60_000)),
    )) as InferJobResult[];
    for (let i = 0; i < inputs.length; i++) {
      expect(results[i]).toMatchObject({ model: 'cls', version: 1, worker: 'w1' });
      expect(
        outputBytes(results[i], CLS_OUT).equals((await cls.run(inputs[i]))[CLS_OUT].bytes),
      ).toBe(true);
    }
    // The loader put the files in the shared cache; the worker holds a lease and says where it is loaded.
    expect(await redis.zrange(keys.leases('e2e', 'cls', 1), 0, -1)).toEqual(['w1']);
    expect(await redis.zrange(keys.placement('cls', 1), 0, -1)).toEqual(['w1']);
    const metrics = await (await fetch(`${w1.url}/metrics`)).text();
    expect(metrics).toMatch(
      /strata_model_loads_total\{model="cls",outcome="ok",service="inference-worker"\} 1/,
    );
    expect(metrics).toMatch(
      /strata_infer_jobs_total\{model="cls",job="run",outcome="ok",service="inference-worker"\} 8/,
    );
    // Cold on this domain's disk: the files came through the model-load queue.
    expect(metrics).toMatch(
      /strata_model_files_answers_total\{via="loader",service="inference-worker"\} 1/,
    );
  });

  it('a second worker loading a version already on disk gets its path from the ready list, not the queue', async () => {
    const w = await startWorker('w-index');
    try {
      const input = [f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, 7))];
      // Jobs go to whichever worker is free: send rounds until the new one has answered one.
      await waitFor(
        async () => {
          const round = await Promise.all(
            Array.from({ length: 8 }, () =>
              producer.add('run', {
                model: 'cls',
                version: 1,
                inputs: input,
                deadline: Date.now() + 60_000,
              }),
            ),
          );
          const done = (await Promise.all(
            round.map((j) => j.waitUntilFinished(events, 60_000)),
          )) as InferJobResult[];
          return done.some((r) => r.worker === 'w-index');
        },
        { timeoutMs: 60_000, intervalMs: 10, what: 'a job answered by w-index' },
      );
      const metrics = await (await fetch(`${w.url}/metrics`)).text();
      expect(metrics).toMatch(
        /strata_model_files_answers_total\{via="index",service="inference-worker"\} 1/,
      );
      expect(metrics).not.toMatch(/strata_model_files_answers_total\{[^}]*via="loader"/);
    } finally {
      await w.stop(10_000);
      workers.delete('w-index');
    }
  });

  it('a version that is not published fails with NOT_FOUND', async () => {
    const job = await producer.add('run', {
      model: 'cls',
      version: 9,
      inputs: [f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, 1))],
      deadline: Date.now() + 60_000,
    });
    await expect(job.waitUntilFinished(events, 60_000)).rejects.toThrow(
      /^\[strata-infer:NOT_FOUND\]/,
    );
  });

  it('a worker killed with SIGKILL mid-job: another worker finishes the job', async () => {
    await startWorker('w2');
    // A recogniser input wide enough to take a few seconds, parked in a blob like the gateway
    // does with large inputs.
    const width = 8_000;
    const bytes = randomF32(3 * 48 * width, 42);
    const blobKey = keys.blob(uniqueId('blob'));
    await redis.set(blobKey, bytes, 'EX', 300);
    const job = await producer.add('run', {
      model: 'rec',
      version: 1,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, width], blobKey }],
      deadline: Date.now() + 120_000,
    });
    const first = await waitFor(
      async () => {
        const j = await queue.getJob(job.id as string);
        return j?.processedBy && (await j.getState()) === 'active' ? j.processedBy : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the job active on a worker' },
    );
    const victim = workers.get(first)!;
    victim.kill('SIGKILL');
    await victim.exited;

    const result = (await job.waitUntilFinished(events, 90_000)) as InferJobResult;
    const survivor = first === 'w1' ? 'w2' : 'w1';
    expect(result.worker).toBe(survivor);
    expect(result.outputs[0]).toMatchObject({ name: REC_OUT, shape: [1, width / 8, 6625] });
    const done = await queue.getJob(job.id as string);
    expect(done?.stalledCounter).toBe(1);
    // The blob is deleted once the job is done, not when the dead worker read it.
    await waitFor(async () => (await redis.exists(blobKey)) === 0, {
      timeoutMs: 10_000,
      what: 'blob deleted',
    });
  });
});
