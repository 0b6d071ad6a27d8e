import type { JobTensor } from '@strata/cache-keys';
import { DirectOrt, f32Tensor, outputBytes } from '../support/direct-ort';
import { DirectoryModelSource } from '../support/directory-model-source';
import {
  CLS_OUT,
  REAL_MODELS,
  REC_OUT,
  SILERO_ENVIRONMENT,
  int64Scalar,
  randomF32,
} from '../support/real-models';
import { startWorker, type WorkerHarness } from '../support/worker-harness';

// The worker's answers are exactly what onnxruntime-node gives for the same bytes: no precision
// lost or reordered on the way through base64, raw little-endian bytes and ort.Tensor.
describe('worker outputs = onnxruntime-node run directly (real models)', () => {
  let source: DirectoryModelSource;
  let worker: WorkerHarness;
  const direct: Record<string, DirectOrt> = {};

  beforeAll(async () => {
    source = await DirectoryModelSource.create();
    await source.install('cls', 1, REAL_MODELS.classifier);
    await source.install('rec', 1, REAL_MODELS.recogniser);
    await source.install('vad', 5, REAL_MODELS.silero, SILERO_ENVIRONMENT);
    worker = await startWorker({ source, env: { BATCH_MAX_DELAY_MS: '0' } });
    direct.cls = await DirectOrt.open(REAL_MODELS.classifier);
    direct.rec = await DirectOrt.open(REAL_MODELS.recogniser);
    direct.vad = await DirectOrt.open(REAL_MODELS.silero);
  });

  afterAll(async () => {
    await worker?.close();
    await Promise.all(Object.values(direct).map((d) => d.release()));
    await source?.remove();
  });

  async function expectSame(
    model: string,
    version: number,
    ref: DirectOrt,
    inputs: JobTensor[],
    outputs: string[],
  ) {
    const result = await worker.run({ model, version, inputs });
    const expected = await ref.run(inputs);
    expect(result.outputs.map((o) => o.name)).toEqual(outputs);
    for (const name of outputs) {
      const got = result.outputs.find((o) => o.name === name)!;
      expect(got.shape).toEqual(expected[name].shape);
      expect(got.datatype).toBe('FP32');
      expect(outputBytes(result, name).equals(expected[name].bytes)).toBe(true);
    }
    return result;
  }

  it('PaddleOCR direction classifier, one image and four in one request', async () => {
    const one = f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, 1));
    const r1 = await expectSame('cls', 1, direct.cls, [one], [CLS_OUT]);
    expect(r1).toMatchObject({
      model: 'cls',
      version: 1,
      batchSize: 1,
      worker: worker.settings.workerId,
    });
    const four = f32Tensor('x', [4, 3, 48, 192], randomF32(4 * 3 * 48 * 192, 2));
    const r4 = await expectSame('cls', 1, direct.cls, [four], [CLS_OUT]);
    expect(r4.batchSize).toBe(4);
  });

  it('PaddleOCR v4 recogniser', async () => {
    const x = f32Tensor('x', [1, 3, 48, 320], randomF32(3 * 48 * 320, 3));
    const r = await expectSame('rec', 1, direct.rec, [x], [REC_OUT]);
    expect(r.outputs[0].shape).toEqual([1, 40, 6625]);
  });

  it('Silero VAD v5 with its int64 scalar sr and recurrent state', async () => {
    const inputs: JobTensor[] = [
      f32Tensor('input', [1, 512], randomF32(512, 4, 0.5)),
      f32Tensor('state', [2, 1, 128], randomF32(256, 5, 0.1)),
      { name: 'sr', datatype: 'INT64', shape: [], data: int64Scalar(16000n).toString('base64') },
    ];
    await expectSame('vad', 5, direct.vad, inputs, ['output', 'stateN']);
  });

  it('returns only the outputs asked for', async () => {
    const inputs: JobTensor[] = [
      f32Tensor('input', [1, 512], randomF32(512, 6, 0.5)),
      f32Tensor('state', [2, 1, 128], randomF32(256, 7, 0.1)),
      { name: 'sr', datatype: 'INT64', shape: [], data: int64Scalar(16000n).toString('base64') },
    ];
    const result = await worker.run({ model: 'vad', version: 5, inputs, outputs: ['stateN'] });
    expect(result.outputs.map((o) => o.name)).toEqual(['stateN']);
    expect(outputBytes(result, 'stateN').equals((await direct.vad.run(inputs)).stateN.bytes)).toBe(
      true,
    );
  });
});
