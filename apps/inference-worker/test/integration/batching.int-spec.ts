import type { InferBatchJobResult, InferJobResult, JobTensor } from '@strata/cache-keys';
import { waitFor } from '@strata/testing';
import { DirectOrt, f32Tensor, outputBytes } from '../support/direct-ort';
import { DirectoryModelSource } from '../support/directory-model-source';
import {
  CLS_OUT,
  REAL_MODELS,
  SILERO_ENVIRONMENT,
  int64Scalar,
  randomF32,
} from '../support/real-models';
import { metricValues, startWorker, type WorkerHarness } from '../support/worker-harness';

const sr = (hz: bigint): JobTensor => ({
  name: 'sr',
  datatype: 'INT64',
  shape: [],
  data: int64Scalar(hz).toString('base64'),
});
// Silero v5 takes 512-sample chunks at 16 kHz and 256-sample chunks at 8 kHz.
const sileroInputs = (i: number, hz = 16000n): JobTensor[] => [
  hz === 16000n
    ? f32Tensor('input', [1, 512], randomF32(512, 1000 + i, 0.5))
    : f32Tensor('input', [1, 256], randomF32(256, 1000 + i, 0.5)),
  f32Tensor('state', [2, 1, 128], randomF32(256, 2000 + i, 0.1)),
  sr(hz),
];

describe('dynamic batching with real models', () => {
  let source: DirectoryModelSource;
  let worker: WorkerHarness;
  let vad: DirectOrt;
  let cls: DirectOrt;

  beforeAll(async () => {
    source = await DirectoryModelSource.create();
    // Silero's metadata cannot name stateN's batch axis: environment.json declares both.
    await source.install('vad', 1, REAL_MODELS.silero, SILERO_ENVIRONMENT);
    // The same model without it: axes come from metadata only.
    await source.install('vad-plain', 1, REAL_MODELS.silero);
    await source.install('cls', 1, REAL_MODELS.classifier);
    await source.install('cls-solo', 1, REAL_MODELS.classifier, { batching: { enabled: false } });
    worker = await startWorker({
      source,
      env: { BATCH_MAX_SIZE: '8', BATCH_MAX_DELAY_MS: '20', INFER_WORKER_CONCURRENCY: '32' },
    });
    vad = await DirectOrt.open(REAL_MODELS.silero);
    cls = await DirectOrt.open(REAL_MODELS.classifier);
  });

  afterAll(async () => {
    await worker?.close();
    await vad?.release();
    await cls?.release();
    await source?.remove();
  });

  async function batchSizes(model: string): Promise<{ count: number; sum: number }> {
    const rows = await metricValues(worker.metrics.batchSize);
    const get = (name: string) =>
      rows.find(
        (r) =>
          r.metricName === `strata_infer_batch_size_${name}` &&
          (r.labels as { model?: string }).model === model,
      )?.value ?? 0;
    return { count: get('count'), sum: get('sum') };
  }

  it('64 concurrent Silero jobs: batches form and every answer equals its unbatched run', async () => {
    const n = 64;
    const inputs = Array.from({ length: n }, (_, i) => sileroInputs(i));
    const results = await Promise.all(
      inputs.map((inp) => worker.run({ model: 'vad', version: 1, inputs: inp })),
    );
    expect(results.some((r) => r.batchSize > 1)).toBe(true);
    expect(Math.max(...results.map((r) => r.batchSize))).toBeLessThanOrEqual(8);
    for (let i = 0; i < n; i++) {
      const expected = await vad.run(inputs[i]);
      expect(results[i].outputs.map((o) => o.shape)).toEqual([
        expected.output.shape,
        expected.stateN.shape,
      ]);
      expect(outputBytes(results[i], 'output').equals(expected.output.bytes)).toBe(true);
      expect(outputBytes(results[i], 'stateN').equals(expected.stateN.bytes)).toBe(true);
    }
    // The histogram saw fewer runs than jobs: some runs carried several.
    const { count, sum } = await batchSizes('vad');
    expect(sum).toBe(n);
    expect(count).toBeLessThan(n);
  });

  it('never batches requests whose sr differ, and still answers each correctly', async () => {
    const inputs = Array.from({ length: 16 }, (_, i) =>
      sileroInputs(100 + i, i % 2 === 0 ? 16000n : 8000n),
    );
    const results = await Promise.all(
      inputs.map((inp) => worker.run({ model: 'vad', version: 1, inputs: inp })),
    );
    for (let i = 0; i < inputs.length; i++) {
      const expected = await vad.run(inputs[i]);
      expect(outputBytes(results[i], 'output').equals(expected.output.bytes)).toBe(true);
      expect(outputBytes(results[i], 'stateN').equals(expected.stateN.bytes)).toBe(true);
    }
  });

  it('without declared axes, Silero requests for stateN run unbatched; those for output only batch', async () => {
    const inputs = Array.from({ length: 24 }, (_, i) => sileroInputs(200 + i));
    const both = await Promise.all(
      inputs.map((inp) => worker.run({ model: 'vad-plain', version: 1, inputs: inp })),
    );
    expect(both.every((r) => r.batchSize === 1)).toBe(true);
    const outputOnly = await Promise.all(
      inputs.map((inp) =>
        worker.run({ model: 'vad-plain', version: 1, inputs: inp, outputs: ['output'] }),
      ),
    );
    expect(outputOnly.some((r) => r.batchSize > 1)).toBe(true);
    for (let i = 0; i < inputs.length; i++) {
      const expected = await vad.run(inputs[i]);
      expect(outputBytes(both[i], 'stateN').equals(expected.stateN.bytes)).toBe(true);
      expect(outputBytes(outputOnly[i], 'output').equals(expected.output.bytes)).toBe(true);
    }
  });

  it('batches the classifier from metadata alone, mixing request sizes, and splits rows back', async () => {
    const sizes = [1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 2, 1];
    const inputs = sizes.map((n, i) =>
      f32Tensor('x', [n, 3, 48, 192], randomF32(n * 3 * 48 * 192, 300 + i)),
    );
    const results: InferJobResult[] = await Promise.all(
      inputs.map((x) => worker.run({ model: 'cls', version: 1, inputs: [x] })),
    );
    expect(results.some((r) => r.batchSize > sizes[results.indexOf(r)])).toBe(true);
    for (let i = 0; i < inputs.length; i++) {
      const expected = await cls.run([inputs[i]]);
      expect(results[i].outputs[0].shape).toEqual([sizes[i], 2]);
      expect(outputBytes(results[i], CLS_OUT).equals(expected[CLS_OUT].bytes)).toBe(true);
    }
  });

  it('a batch job (requests gathered at a gateway): each answered as ORT would, a bad one fails alone', async () => {
    const n = 12;
    const inputs = Array.from({ length: n }, (_, i) => sileroInputs(500 + i));
    const requests = inputs.map((inp, i) => ({
      inputs: inp,
      requestId: `b-${i}`,
      deadline: Date.now() + 60_000,
    }));
    // An input the model cannot take: fails with INVALID_INPUT, the others are not affected.
    requests.splice(5, 0, {
      inputs: [f32Tensor('input', [1, 512], randomF32(512, 9, 0.5))],
      requestId: 'b-bad',
      deadline: Date.now() + 60_000,
    });
    const job = await worker.producer.add('batch', {
      model: 'vad',
      version: 1,
      requests,
      deadline: Date.now() + 60_000,
    });
    const result = (await job.waitUntilFinished(worker.events, 60_000)) as InferBatchJobResult;
    expect(result.results).toHaveLength(n + 1);
    expect(result.batchMax).toBe(8);
    const bad = result.results[5];
    expect(bad).toEqual({
      error: { code: 'INVALID_INPUT', message: expect.stringMatching(/state/) },
    });
    const good = result.results.filter((_, i) => i !== 5) as InferJobResult[];
    expect(good.some((r) => r.batchSize > 1)).toBe(true);
    for (let i = 0; i < n; i++) {
      const expected = await vad.run(inputs[i]);
      expect(outputBytes(good[i], 'output').equals(expected.output.bytes)).toBe(true);
      expect(outputBytes(good[i], 'stateN').equals(expected.stateN.bytes)).toBe(true);
    }
    // Records are written off the answer's path, a few ms after it.
    await waitFor(
      async () => {
        const recent = await worker.redis.zrange(
          worker.keys.recentInferences('vad', worker.settings.workerId),
          0,
          -1,
        );
        const ids = recent.map((m) => JSON.parse(m).id);
        return ['b-0', 'b-11'].every((id) => ids.includes(id));
      },
      { timeoutMs: 5000, what: 'records of the batch job' },
    );
  });

  it('a run answer tells the gateway how many requests the version batches', async () => {
    const x = f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, 450));
    expect((await worker.run({ model: 'cls', version: 1, inputs: [x] })).batchMax).toBe(8);
    expect((await worker.run({ model: 'cls-solo', version: 1, inputs: [x] })).batchMax).toBe(1);
  });

  it('runs every request alone when environment.json switches batching off', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) =>
      f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, 400 + i)),
    );
    const results = await Promise.all(
      inputs.map((x) => worker.run({ model: 'cls-solo', version: 1, inputs: [x] })),
    );
    expect(results.every((r) => r.batchSize === 1)).toBe(true);
    expect(worker.pool.list().find((m) => m.model === 'cls-solo')?.batching).toBe(false);
  });
});
