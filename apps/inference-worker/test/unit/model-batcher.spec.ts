import { JobError } from '@strata/cache-keys';
import type { RawTensor } from '@strata/tensors';
import { planBatching } from '../../src/batching/batch-axes';
import { NO_BATCHING_CONFIG } from '../../src/batching/batch-config';
import { ModelBatcher, type RunReport } from '../../src/batching/model-batcher';
import type { ModelSession, TensorInfo } from '../../src/ort/model-session';

// A stand-in for a session whose model doubles x along [N, 2] (y = 2x), so the test can check
// every request gets its own rows back. Real ONNX Runtime runs are in the integration tests.
class DoublingSession implements ModelSession {
  readonly inputs: TensorInfo[] = [{ name: 'x', datatype: 'FP32', dims: ['N', 2] }];
  readonly outputs: TensorInfo[] = [{ name: 'y', datatype: 'FP32', dims: ['N', 2] }];
  readonly runs: number[][] = [];
  failWhenBatchAbove = Infinity;
  wrongOutputBatch = false;

  async run(feeds: readonly RawTensor[]): Promise<Map<string, RawTensor>> {
    const x = feeds[0];
    const v = new Float32Array(
      x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + x.data.byteLength),
    );
    this.runs.push([x.shape[0]]);
    if (v.some((e) => Number.isNaN(e)) || x.shape[0] > this.failWhenBatchAbove)
      throw new Error('bad value');
    await new Promise((r) => setTimeout(r, 5));
    const y = v.map((e) => e * 2);
    const shape = this.wrongOutputBatch ? [1, y.length] : [...x.shape];
    return new Map([['y', { name: 'y', datatype: 'FP32', shape, data: Buffer.from(y.buffer) }]]);
  }

  async release(): Promise<void> {}
}

const x = (...rows: number[][]): RawTensor => ({
  name: 'x',
  datatype: 'FP32',
  shape: [rows.length, 2],
  data: Buffer.from(new Float32Array(rows.flat()).buffer),
});
const ys = (t: RawTensor | undefined) => [
  ...new Float32Array(
    t!.data.buffer.slice(t!.data.byteOffset, t!.data.byteOffset + t!.data.byteLength),
  ),
];

function setup(maxSize = 4, maxDelayMs = 20) {
  const session = new DoublingSession();
  const plan = planBatching(session.inputs, session.outputs, NO_BATCHING_CONFIG, {
    maxSize,
    maxDelayMs,
  });
  const reports: RunReport[] = [];
  const fallbacks: string[] = [];
  const batcher = new ModelBatcher(session, plan, {
    clock: { now: () => Date.now() },
    onRun: (r) => reports.push(r),
    onFallback: (r) => fallbacks.push(r),
  });
  const submit = (t: RawTensor, deadline = Date.now() + 60_000) =>
    batcher.submit({ inputs: [t], outputs: ['y'], deadline });
  return { session, batcher, reports, fallbacks, submit };
}

describe('ModelBatcher', () => {
  it('joins concurrent requests up to the batch size and splits the answer per request', async () => {
    const { session, submit, reports } = setup(4);
    const answers = await Promise.all([
      submit(x([1, 2])),
      submit(x([3, 4], [5, 6])),
      submit(x([7, 8])),
      submit(x([9, 10])),
    ]);
    expect(answers.map((a) => ys(a.outputs.get('y')))).toEqual([
      [2, 4],
      [6, 8, 10, 12],
      [14, 16],
      [18, 20],
    ]);
    // 1 + 2 + 1 = 4 items fill the first batch; the last request runs in the next.
    expect(session.runs).toEqual([[4], [1]]);
    expect(answers.map((a) => a.batchSize)).toEqual([4, 4, 4, 1]);
    expect(reports.map((r) => [r.items, r.requests])).toEqual([
      [4, 3],
      [1, 1],
    ]);
  });

  it('runs a lone request after the delay', async () => {
    const { session, submit } = setup(8, 1);
    const a = await submit(x([1, 1]));
    expect(ys(a.outputs.get('y'))).toEqual([2, 2]);
    expect(session.runs).toEqual([[1]]);
  });

  describe('with maxDelayMs 0 (no timer: batches form while a run is in progress)', () => {
    it('runs a lone request on an idle model at once, without waiting for company', async () => {
      const { session, submit } = setup(8, 0);
      const a = submit(x([1, 1]));
      // The run has started by the end of this turn of the event loop: no timer in front of it.
      await new Promise((r) => setImmediate(r));
      expect(session.runs).toEqual([[1]]);
      expect(ys((await a).outputs.get('y'))).toEqual([2, 2]);
      expect(session.runs).toEqual([[1]]);
    });

    it('lets requests of one turn of the event loop share the run', async () => {
      const { session, submit } = setup(8, 0);
      const answers = await Promise.all([submit(x([1, 1])), submit(x([2, 2])), submit(x([3, 3]))]);
      expect(answers.map((a) => ys(a.outputs.get('y')))).toEqual([
        [2, 2],
        [4, 4],
        [6, 6],
      ]);
      expect(session.runs).toEqual([[3]]);
    });

    it('gathers the requests that arrive during a run into the next one, full or not', async () => {
      const { session, submit, reports } = setup(4, 0);
      const first = submit(x([1, 1]));
      // The first run has started (5 ms long): these wait for it, then run together at once.
      await new Promise((r) => setImmediate(r));
      const during = [2, 3, 4, 5, 6, 7].map((v) => submit(x([v, v])));
      const answers = await Promise.all([first, ...during]);
      expect(answers.map((a) => ys(a.outputs.get('y'))[0])).toEqual([2, 4, 6, 8, 10, 12, 14]);
      // 6 arrivals, batch size 4: one full group, the other two after it.
      expect(session.runs).toEqual([[1], [4], [2]]);
      expect(reports.map((r) => r.requests)).toEqual([1, 4, 2]);
    });

    it('drops a request whose deadline passed while it waited for the run in progress', async () => {
      const { session, submit } = setup(4, 0);
      const first = submit(x([1, 1]));
      await new Promise((r) => setImmediate(r));
      const late = submit(x([2, 2]), Date.now() + 1);
      const fine = submit(x([3, 3]));
      await expect(late).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(ys((await fine).outputs.get('y'))).toEqual([6, 6]);
      await first;
      expect(session.runs).toEqual([[1], [1]]);
    });
  });

  it('fails only the bad request of a batch (the others are rerun alone)', async () => {
    const { session, submit, fallbacks } = setup(3);
    const results = await Promise.allSettled([
      submit(x([1, 1])),
      submit(x([NaN, 0])),
      submit(x([2, 2])),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(JobError);
    expect(err.code).toBe('INVALID_INPUT');
    expect(session.runs).toEqual([[3], [1], [1], [1]]);
    expect(fallbacks[0]).toMatch(/batched run failed/);
  });

  it('runs request by request when an output does not split along its batch axis', async () => {
    const { session, submit, fallbacks } = setup(2);
    session.wrongOutputBatch = true;
    const [a, b] = await Promise.all([submit(x([1, 1])), submit(x([2, 3]))]);
    expect(fallbacks).toEqual(['output "y" has size 1 on axis 0, not 2']);
    expect(a.batchSize).toBe(1);
    expect(b.outputs.get('y')!.shape).toEqual([1, 2]);
    expect(session.runs).toEqual([[2], [1], [1]]);
  });

  it('drops requests whose deadline passed while they waited, with TIMEOUT', async () => {
    const { session, submit } = setup(4, 30);
    const late = submit(x([1, 1]), Date.now() + 5);
    const fine = submit(x([2, 2]));
    await expect(late).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(ys((await fine).outputs.get('y'))).toEqual([4, 4]);
    expect(session.runs).toEqual([[1]]);
  });
});
