import { decodeJobFailure, type JobTensor } from '@strata/cache-keys';
import { uniqueId, waitFor } from '@strata/testing';
import { f32Tensor, outputBytes, DirectOrt } from '../support/direct-ort';
import { DirectoryModelSource } from '../support/directory-model-source';
import {
  CLS_OUT,
  REAL_MODELS,
  SILERO_ENVIRONMENT,
  int64Scalar,
  randomF32,
} from '../support/real-models';
import { metricValues, startWorker, type WorkerHarness } from '../support/worker-harness';

const clsInput = (seed: number, shape = [1, 3, 48, 192]) => [
  f32Tensor(
    'x',
    shape,
    randomF32(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  ),
];

describe('infer jobs: errors, blobs, records', () => {
  let source: DirectoryModelSource;
  let worker: WorkerHarness;

  beforeAll(async () => {
    source = await DirectoryModelSource.create();
    await source.install('cls', 1, REAL_MODELS.classifier);
    await source.install('vad', 1, REAL_MODELS.silero, SILERO_ENVIRONMENT);
    worker = await startWorker({
      source,
      env: { WORKER_ID: 'jobs-worker', METRICS_INTERVAL: '30' },
    });
  });

  afterAll(async () => {
    await worker?.close();
    await source?.remove();
  });

  /** Adds a run job expected to fail; returns its decoded error and the job. */
  async function failing(data: Parameters<WorkerHarness['run']>[0], attempts = 3) {
    const job = await worker.producer.add(
      'run',
      { deadline: Date.now() + 60_000, ...data },
      { attempts, backoff: 10 },
    );
    const err = await job.waitUntilFinished(worker.events, 30_000).then(
      () => undefined,
      (e: Error) => e,
    );
    if (!err) throw new Error('the job did not fail');
    const after = await worker.queue.getJob(job.id as string);
    return { error: decodeJobFailure(err.message), job: after! };
  }

  it('reads large inputs from blob keys and deletes them after use', async () => {
    const [x] = clsInput(11);
    const key = worker.keys.blob(uniqueId('blob'));
    await worker.redis.set(key, Buffer.from(x.data!, 'base64'), 'EX', 300);
    const viaBlob = await worker.run({
      model: 'cls',
      version: 1,
      inputs: [{ ...x, data: undefined, blobKey: key }],
    });
    const inline = await worker.run({ model: 'cls', version: 1, inputs: [x] });
    expect(outputBytes(viaBlob, CLS_OUT).equals(outputBytes(inline, CLS_OUT))).toBe(true);
    await waitFor(async () => (await worker.redis.exists(key)) === 0, {
      timeoutMs: 5000,
      what: 'blob deleted',
    });
  });

  it('INVALID_INPUT (no retry) for inputs the model refuses, naming the problem', async () => {
    const wrongShape = await failing({
      model: 'cls',
      version: 1,
      inputs: clsInput(1, [1, 4, 48, 192]),
    });
    expect(wrongShape.error.code).toBe('INVALID_INPUT');
    expect(wrongShape.error.message).toMatch(/input "x".*dimension 1 must be 3/);
    expect(wrongShape.job.attemptsMade).toBe(1);

    const unknownInput = await failing({
      model: 'cls',
      version: 1,
      inputs: [f32Tensor('y', [1], randomF32(1, 1))],
    });
    expect(unknownInput.error).toMatchObject({ code: 'INVALID_INPUT' });
    expect(unknownInput.error.message).toMatch(/unknown input/);

    const badBytes: JobTensor = {
      name: 'x',
      datatype: 'FP32',
      shape: [1, 3, 48, 192],
      data: Buffer.alloc(12).toString('base64'),
    };
    expect((await failing({ model: 'cls', version: 1, inputs: [badBytes] })).error.code).toBe(
      'INVALID_INPUT',
    );

    const unknownOutput = await failing({
      model: 'cls',
      version: 1,
      inputs: clsInput(2),
      outputs: ['nope'],
    });
    expect(unknownOutput.error.message).toMatch(/unknown output/);

    const goneBlob = await failing({
      model: 'cls',
      version: 1,
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [1, 3, 48, 192],
          blobKey: worker.keys.blob('missing'),
        },
      ],
    });
    expect(goneBlob.error.message).toMatch(/blob .* is gone/);
    const foreignKey = await failing({
      model: 'cls',
      version: 1,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1], blobKey: 'other:key' }],
    });
    expect(foreignKey.error.message).toMatch(/not a blob key/);
  });

  it('ONNX Runtime refusing inputs the metadata allows is INVALID_INPUT too', async () => {
    // Silero v5 takes 512 samples at 16 kHz but 256 at 8 kHz; its metadata cannot say so.
    const inputs: JobTensor[] = [
      f32Tensor('input', [1, 512], randomF32(512, 3, 0.5)),
      f32Tensor('state', [2, 1, 128], randomF32(256, 4, 0.1)),
      { name: 'sr', datatype: 'INT64', shape: [], data: int64Scalar(8000n).toString('base64') },
    ];
    const refused = await failing({ model: 'vad', version: 1, inputs });
    expect(refused.error.code).toBe('INVALID_INPUT');
    expect(refused.error.message).toMatch(/ONNX Runtime refused the input/);
  });

  it('NOT_FOUND for a version the loader does not have, TIMEOUT for a deadline already past', async () => {
    const missing = await failing({ model: 'nope', version: 7, inputs: clsInput(4) });
    expect(missing.error.code).toBe('NOT_FOUND');
    expect(missing.job.attemptsMade).toBe(1);
    const late = await failing({
      model: 'cls',
      version: 1,
      inputs: clsInput(5),
      deadline: Date.now() - 1,
    });
    expect(late.error.code).toBe('TIMEOUT');
    expect(late.error.message).toMatch(/deadline passed/);
  });

  it('writes recent-inference and error records, trimmed, with the TTL of 2 × METRICS_INTERVAL', async () => {
    const ok = worker.keys.recentInferences('cls', 'jobs-worker');
    const err = worker.keys.recentErrors('cls', 'jobs-worker');
    // Written off the answers' path, a few ms after them: wait for the last one (the timeout).
    await waitFor(
      async () =>
        (await worker.redis.zcard(err)) >= 6 &&
        (await worker.redis.zrange(err, -1, -1))[0]?.includes('"TIMEOUT"') === true,
      { timeoutMs: 5000, what: 'error records' },
    );
    const [last] = await worker.redis.zrange(ok, -1, -1);
    expect(JSON.parse(last)).toEqual({
      id: expect.any(String),
      version: 1,
      ms: expect.any(Number),
      batch: 1,
      at: expect.any(Number),
    });
    const [lastError] = await worker.redis.zrange(err, -1, -1);
    expect(JSON.parse(lastError)).toMatchObject({ version: 1, code: 'TIMEOUT' });
    expect(await worker.redis.zrange(worker.keys.recentWorkers('cls'), 0, -1)).toEqual([
      'jobs-worker',
    ]);
    for (const key of [ok, err, worker.keys.recentWorkers('cls')]) {
      const ttl = await worker.redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
    }
  });

  it('counts jobs by outcome and observes queue wait, compute and load time', async () => {
    const jobs = Object.fromEntries(
      (await metricValues(worker.metrics.jobs)).map((v) => [
        Object.values(v.labels).join(':'),
        v.value,
      ]),
    );
    expect(jobs['cls:run:ok']).toBe(2);
    expect(jobs['cls:run:invalid_input']).toBe(6);
    expect(jobs['vad:run:invalid_input']).toBe(1);
    expect(jobs['nope:run:not_found']).toBe(1);
    expect(jobs['cls:run:timeout']).toBe(1);
    const count = async (
      m: { get(): Promise<{ values: { metricName?: string; value: number; labels: object }[] }> },
      name: string,
    ) =>
      (await m.get()).values.find(
        (v) => v.metricName === `${name}_count` && (v.labels as { model?: string }).model === 'cls',
      )?.value;
    expect(await count(worker.metrics.queueWait, 'strata_infer_queue_wait_seconds')).toBe(9);
    expect(
      await count(worker.metrics.compute, 'strata_infer_compute_seconds'),
    ).toBeGreaterThanOrEqual(2);
    expect(await count(worker.metrics.loadDuration, 'strata_model_load_duration_seconds')).toBe(1);
  });

  it('answers exactly as onnxruntime-node for a request of four images', async () => {
    const direct = await DirectOrt.open(REAL_MODELS.classifier);
    try {
      const inputs = clsInput(12, [4, 3, 48, 192]);
      const r = await worker.run({ model: 'cls', version: 1, inputs, requestId: 'req-1' });
      expect(outputBytes(r, CLS_OUT).equals((await direct.run(inputs))[CLS_OUT].bytes)).toBe(true);
      // Records are written off the answer's path, a few ms after it.
      let last = '';
      await waitFor(
        async () => {
          [last = ''] = await worker.redis.zrange(
            worker.keys.recentInferences('cls', 'jobs-worker'),
            -1,
            -1,
          );
          return last.includes('"req-1"');
        },
        { timeoutMs: 5000, what: 'the record of req-1' },
      );
      expect(JSON.parse(last)).toMatchObject({ id: 'req-1', batch: 4 });
    } finally {
      await direct.release();
    }
  });
});
