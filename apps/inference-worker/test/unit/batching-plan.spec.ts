import type { RawTensor } from '@strata/tensors';
import { inferInputAxis, inferOutputAxis, planBatching } from '../../src/batching/batch-axes';
import {
  BatchConfigError,
  NO_BATCHING_CONFIG,
  parseBatchingConfig,
} from '../../src/batching/batch-config';
import { placeRequest } from '../../src/batching/batch-key';
import type { TensorInfo } from '../../src/ort/model-session';

const t = (
  name: string,
  dims: (number | string)[] | undefined,
  datatype: TensorInfo['datatype'] = 'FP32',
): TensorInfo => ({
  name,
  datatype,
  dims,
});

// Session metadata as ONNX Runtime 1.30 reports it for the real models.
const SILERO = {
  inputs: [t('input', ['', '']), t('state', [2, '', 128]), t('sr', undefined, 'INT64')],
  outputs: [t('output', ['', 1]), t('stateN', ['', '', ''])],
};
const CLS = {
  inputs: [
    t('x', ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2']),
  ],
  outputs: [t('softmax_0.tmp_0', ['p2o.DynamicDimension.3', 2])],
};
const REC_OUT = t('softmax_11.tmp_0', ['p2o.DynamicDimension.2', 'p2o.DynamicDimension.3', 6625]);
const DEFAULTS = { maxSize: 8, maxDelayMs: 2 };
const SILERO_ENV = {
  batching: {
    enabled: true,
    axes: { inputs: { input: 0, state: 1 }, outputs: { output: 0, stateN: 1 } },
  },
};

function raw(
  name: string,
  shape: number[],
  fill = 0,
  datatype: RawTensor['datatype'] = 'FP32',
): RawTensor {
  const size = datatype === 'INT64' ? 8 : 4;
  const count = shape.reduce((a, b) => a * b, 1);
  return { name, datatype, shape, data: Buffer.alloc(count * size, fill) };
}

describe('batch axes from metadata', () => {
  it('takes the first dynamic axis of an input', () => {
    expect(inferInputAxis(SILERO.inputs[0])).toBe(0);
    expect(inferInputAxis(SILERO.inputs[1])).toBe(1);
    expect(inferInputAxis(SILERO.inputs[2])).toBeUndefined();
    expect(inferInputAxis(CLS.inputs[0])).toBe(0);
  });

  it('takes an output axis only when unambiguous', () => {
    expect(inferOutputAxis(SILERO.outputs[0])).toBe(0);
    // ["","",""]: any of three unnamed axes could be the batch.
    expect(inferOutputAxis(SILERO.outputs[1])).toBeUndefined();
    expect(inferOutputAxis(CLS.outputs[0])).toBe(0);
    expect(inferOutputAxis(REC_OUT)).toBe(0);
    expect(inferOutputAxis(t('fixed', [1, 2]))).toBeUndefined();
  });

  it('lets environment.json declare axes, including "none"', () => {
    const plan = planBatching(
      SILERO.inputs,
      SILERO.outputs,
      parseBatchingConfig(SILERO_ENV),
      DEFAULTS,
    );
    expect(plan.enabled).toBe(true);
    expect([...plan.axes.inputs]).toEqual([
      ['input', 0],
      ['state', 1],
      ['sr', undefined],
    ]);
    expect([...plan.axes.outputs]).toEqual([
      ['output', 0],
      ['stateN', 1],
    ]);
    const none = parseBatchingConfig({ batching: { axes: { outputs: { output: null } } } });
    const p2 = planBatching(SILERO.inputs, SILERO.outputs, none, DEFAULTS);
    expect(p2.axes.outputs.get('output')).toBeUndefined();
    expect(p2.enabled).toBe(false);
  });

  it('switches off per model and takes size and delay overrides', () => {
    const off = planBatching(
      CLS.inputs,
      CLS.outputs,
      parseBatchingConfig({ batching: { enabled: false } }),
      DEFAULTS,
    );
    expect(off).toMatchObject({ enabled: false, reason: 'disabled in environment.json' });
    const custom = planBatching(
      CLS.inputs,
      CLS.outputs,
      parseBatchingConfig({ batching: { maxSize: 32, maxDelayMs: 0 } }),
      DEFAULTS,
    );
    expect(custom).toMatchObject({ enabled: true, maxSize: 32, maxDelayMs: 0 });
    expect(
      planBatching(CLS.inputs, CLS.outputs, NO_BATCHING_CONFIG, { maxSize: 1, maxDelayMs: 2 })
        .enabled,
    ).toBe(false);
  });

  it('refuses bad declarations with every problem named', () => {
    expect(() =>
      parseBatchingConfig({ batching: { maxSize: 0, axes: { inputs: { x: -1 } }, speed: 1 } }),
    ).toThrow(/unknown key "speed".*maxSize.*axes\.inputs\.x/);
    const cfg = parseBatchingConfig({
      batching: { axes: { inputs: { nope: 0, state: 0 }, outputs: { output: 5 } } },
    });
    let error: unknown;
    try {
      planBatching(SILERO.inputs, SILERO.outputs, cfg, DEFAULTS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BatchConfigError);
    expect((error as BatchConfigError).problems).toEqual([
      'axes.inputs.nope: the model has no such input',
      'axes.inputs.state: axis 0 has fixed size 2',
      'axes.outputs.output: axis 5 but rank 2',
    ]);
    expect(parseBatchingConfig({ preprocessing: { resize: 224 } })).toBe(NO_BATCHING_CONFIG);
  });
});

describe('placeRequest (batch grouping)', () => {
  const plan = planBatching(
    SILERO.inputs,
    SILERO.outputs,
    parseBatchingConfig(SILERO_ENV),
    DEFAULTS,
  );
  const sr16k = (): RawTensor => {
    const data = Buffer.alloc(8);
    data.writeBigInt64LE(16000n);
    return { name: 'sr', datatype: 'INT64', shape: [], data };
  };
  const silero = (n: number, sr = sr16k()) => [
    raw('input', [n, 512], 1),
    raw('state', [2, n, 128], 2),
    sr,
  ];

  it('groups requests whose non-batch inputs are byte-identical', () => {
    const a = placeRequest(plan, silero(1), ['output', 'stateN']);
    const b = placeRequest(plan, silero(3), ['stateN', 'output']);
    expect(a).toMatchObject({ batched: true, count: 1 });
    expect(b).toMatchObject({ batched: true, count: 3 });
    expect(a.batched && b.batched && a.key === b.key).toBe(true);
    const sr8k = sr16k();
    sr8k.data.writeBigInt64LE(8000n);
    const c = placeRequest(plan, silero(1, sr8k), ['output', 'stateN']);
    expect(c.batched && a.batched && c.key !== a.key).toBe(true);
  });

  it('keeps different requested outputs and trailing shapes apart', () => {
    const a = placeRequest(plan, silero(1), ['output']);
    const b = placeRequest(plan, silero(1), ['output', 'stateN']);
    expect(a.batched && b.batched && a.key !== b.key).toBe(true);
    const clsPlan = planBatching(CLS.inputs, CLS.outputs, NO_BATCHING_CONFIG, DEFAULTS);
    const w192 = placeRequest(clsPlan, [raw('x', [1, 3, 48, 192])], ['softmax_0.tmp_0']);
    const w96 = placeRequest(clsPlan, [raw('x', [2, 3, 48, 96])], ['softmax_0.tmp_0']);
    expect(w192.batched && w96.batched && w192.key !== w96.key).toBe(true);
  });

  it('runs alone what cannot be split or joined', () => {
    // Silero without environment.json: stateN has no determinable batch axis.
    const inferred = planBatching(SILERO.inputs, SILERO.outputs, NO_BATCHING_CONFIG, DEFAULTS);
    expect(placeRequest(inferred, silero(1), ['output', 'stateN'])).toMatchObject({
      batched: false,
    });
    expect(placeRequest(inferred, silero(1), ['output'])).toMatchObject({ batched: true });
    // Inputs disagreeing on the batch size, or more items than a batch holds.
    const mixed = [raw('input', [2, 512]), raw('state', [2, 3, 128]), sr16k()];
    expect(placeRequest(plan, mixed, ['output'])).toMatchObject({
      batched: false,
      reason: 'inputs disagree on the batch size',
    });
    expect(placeRequest(plan, silero(9), ['output'])).toMatchObject({
      batched: false,
      reason: 'larger than a batch',
    });
  });
});
