import { mkdtemp, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  buildAddModel,
  buildCastModel,
  buildIdentityModel,
  buildLargeModel,
  buildTwoInTwoOutModel,
  ONNX_DATATYPES,
  writeModel,
  type OnnxDatatype,
} from '@strata/testing';

const ORT_TYPE: { [D in OnnxDatatype]: ort.Tensor.Type } = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

/** Extremes of every datatype; FP16 as bit patterns, floats with signed zero, infinities, NaN. */
const EXTREMES: { [D in OnnxDatatype]: readonly (number | bigint | string)[] } = {
  BOOL: [0, 1, 1, 0],
  UINT8: [0, 255, 1, 128],
  UINT16: [0, 65535, 1, 0x8000],
  UINT32: [0, 4294967295, 1, 0x80000000],
  UINT64: [0n, 2n ** 64n - 1n, 1n, 2n ** 53n + 1n, 2n ** 63n],
  INT8: [-128, 127, 0, -1],
  INT16: [-32768, 32767, 0, -1],
  INT32: [-2147483648, 2147483647, 0, -1],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n],
  // zero, -0, smallest/largest subnormal, smallest normal, 1, ±max, ±inf, quiet NaN, NaN payload
  FP16: [
    0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7e01,
  ],
  FP32: [
    0,
    -0,
    1.5,
    3.4028234663852886e38,
    -3.4028234663852886e38,
    1.401298464324817e-45,
    Infinity,
    -Infinity,
    NaN,
  ],
  FP64: [0, -0, Math.PI, Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324, Infinity, -Infinity, NaN],
  BYTES: ['', 'a', 'ünïcødé ✓', 'x'.repeat(1000), '0', 'tab\there'],
};

type TypedData = Exclude<ort.Tensor.DataType, string[]> | string[];

function sample(datatype: OnnxDatatype, count: number): TypedData {
  const pick = (i: number) => EXTREMES[datatype][i % EXTREMES[datatype].length];
  switch (datatype) {
    case 'BYTES':
      return Array.from({ length: count }, (_, i) => pick(i) as string);
    case 'UINT64':
      return BigUint64Array.from({ length: count }, (_, i) => pick(i) as bigint);
    case 'INT64':
      return BigInt64Array.from({ length: count }, (_, i) => pick(i) as bigint);
    default: {
      const Class = {
        BOOL: Uint8Array,
        UINT8: Uint8Array,
        UINT16: Uint16Array,
        UINT32: Uint32Array,
        INT8: Int8Array,
        INT16: Int16Array,
        INT32: Int32Array,
        FP16: Uint16Array,
        FP32: Float32Array,
        FP64: Float64Array,
      }[datatype];
      const array = new Class(count);
      for (let i = 0; i < count; i++) array[i] = pick(i) as number;
      return array;
    }
  }
}

/** Equal element for element, bit for bit (NaN payloads and -0 included). */
function expectSameData(actual: unknown, expected: TypedData): void {
  if (Array.isArray(expected)) {
    expect(actual).toEqual(expected);
    return;
  }
  const view = actual as ArrayBufferView;
  expect(view.constructor).toBe(expected.constructor);
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  expect(bytes(view).equals(bytes(expected))).toBe(true);
}

describe('ONNX model builder, run by onnxruntime-node', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'strata-onnx-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(name: string, bytes: Uint8Array): Promise<ort.InferenceSession> {
    const file = await writeModel(path.join(dir, name, 'weights.onnx'), bytes);
    return ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  }

  describe.each(ONNX_DATATYPES)('Identity %s', (datatype) => {
    let session: ort.InferenceSession;
    beforeAll(async () => {
      session = await load(
        `identity-${datatype}`,
        buildIdentityModel({ datatype, shape: ['batch', 3] }),
      );
    });
    afterAll(() => session?.release());

    it('declares its input and output', () => {
      expect(session.inputNames).toEqual(['input']);
      expect(session.outputNames).toEqual(['output']);
      expect(session.inputMetadata[0]).toMatchObject({
        name: 'input',
        isTensor: true,
        type: ORT_TYPE[datatype],
        shape: ['batch', 3],
      });
    });

    it.each([1, 5])('returns its input unchanged, batch %d', async (batch) => {
      const data = sample(datatype, batch * 3);
      const input = new ort.Tensor(ORT_TYPE[datatype], data, [batch, 3]);
      const { output } = await session.run({ input });
      expect(output.type).toBe(ORT_TYPE[datatype]);
      expect(output.dims).toEqual([batch, 3]);
      expectSameData(output.data, data);
    });
  });

  it('names the input as asked and supports unnamed dynamic and fixed dimensions', async () => {
    const session = await load(
      'identity-named',
      buildIdentityModel({ datatype: 'INT64', shape: [-1, 2], name: 'ids', outputName: 'same' }),
    );
    try {
      expect(session.inputMetadata[0]).toMatchObject({ name: 'ids', shape: ['', 2] });
      const data = sample('INT64', 8);
      const { same } = await session.run({ ids: new ort.Tensor('int64', data, [4, 2]) });
      expectSameData(same.data, data);
      await expect(
        session.run({ ids: new ort.Tensor('int64', sample('INT64', 3), [1, 3]) }),
      ).rejects.toThrow(/dimension|shape/i);
    } finally {
      await session.release();
    }
  });

  it('Add: x + addend (per column or scalar), batch 1 and 5', async () => {
    const perColumn = await load('add', buildAddModel({ addend: [1, 2, 3] }));
    const scalar = await load('add-scalar', buildAddModel({ addend: 0.5, shape: ['batch', 2, 2] }));
    try {
      expect(perColumn.inputMetadata[0]).toMatchObject({
        name: 'x',
        type: 'float32',
        shape: ['batch', 3],
      });
      for (const batch of [1, 5]) {
        const x = Float32Array.from({ length: batch * 3 }, (_, i) => i * 1.25 - 4);
        const { y } = await perColumn.run({ x: new ort.Tensor('float32', x, [batch, 3]) });
        expect(y.dims).toEqual([batch, 3]);
        expect(Array.from(y.data as Float32Array)).toEqual(
          Array.from(x, (v, i) => Math.fround(v + (i % 3) + 1)),
        );
        const x2 = Float32Array.from({ length: batch * 4 }, (_, i) => i);
        const out = await scalar.run({ x: new ort.Tensor('float32', x2, [batch, 2, 2]) });
        expect(Array.from(out.y.data as Float32Array)).toEqual(Array.from(x2, (v) => v + 0.5));
      }
    } finally {
      await perColumn.release();
      await scalar.release();
    }
  });

  it('Cast: every pair of datatypes runs', async () => {
    const zeroOne: { [D in OnnxDatatype]: TypedData } = {
      BOOL: Uint8Array.from([0, 1]),
      UINT8: Uint8Array.from([0, 1]),
      UINT16: Uint16Array.from([0, 1]),
      UINT32: Uint32Array.from([0, 1]),
      UINT64: BigUint64Array.from([0n, 1n]),
      INT8: Int8Array.from([0, 1]),
      INT16: Int16Array.from([0, 1]),
      INT32: Int32Array.from([0, 1]),
      INT64: BigInt64Array.from([0n, 1n]),
      FP16: Uint16Array.from([0, 0x3c00]),
      FP32: Float32Array.from([0, 1]),
      FP64: Float64Array.from([0, 1]),
      BYTES: ['0', '1'],
    };
    const failures: string[] = [];
    for (const from of ONNX_DATATYPES) {
      for (const to of ONNX_DATATYPES) {
        const session = await ort.InferenceSession.create(buildCastModel({ from, to }));
        try {
          const { output } = await session.run({
            input: new ort.Tensor(ORT_TYPE[from], zeroOne[from], [2]),
          });
          try {
            expect(output.type).toBe(ORT_TYPE[to]);
            expectSameData(output.data, zeroOne[to]);
          } catch {
            failures.push(
              `${from} → ${to}: ${String(Array.from(output.data as ArrayLike<unknown>))}`,
            );
          }
        } finally {
          await session.release();
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('two inputs and two outputs, each output on its own', async () => {
    const session = await load('two', buildTwoInTwoOutModel());
    try {
      expect(session.inputNames).toEqual(['a', 'b']);
      expect(session.outputNames).toEqual(['doubled', 'negated']);
      const a = new ort.Tensor('float32', Float32Array.from([1, 2, 3, -4, 5.5, 6]), [2, 3]);
      const b = new ort.Tensor(
        'int64',
        BigInt64Array.from([1n, -2n, 2n ** 62n, -(2n ** 63n) + 1n]),
        [2, 2],
      );
      const out = await session.run({ a, b });
      expect(Array.from(out.doubled.data as Float32Array)).toEqual([2, 4, 6, -8, 11, 12]);
      expect(Array.from(out.negated.data as BigInt64Array)).toEqual([
        -1n,
        2n,
        -(2n ** 62n),
        2n ** 63n - 1n,
      ]);
      const only = await session.run({ a, b }, ['negated']);
      expect(Object.keys(only)).toEqual(['negated']);
      const single = await session.run({
        a: new ort.Tensor('float32', Float32Array.from([1, 1, 1]), [1, 3]),
        b: new ort.Tensor('int64', BigInt64Array.from([7n, 8n]), [1, 2]),
      });
      expect(single.negated.dims).toEqual([1, 2]);
    } finally {
      await session.release();
    }
  });

  it('a large model: the file holds the whole initializer and ORT reads all of it', async () => {
    const bytes = 16 * 1024 * 1024 + 7;
    const model = buildLargeModel({ bytes, seed: 42 });
    expect(model.length).toBeGreaterThan(bytes);
    expect(model.length).toBeLessThan(bytes + 1024);
    expect(
      buildLargeModel({ bytes: 4096, seed: 42 }).equals(buildLargeModel({ bytes: 4096, seed: 42 })),
    ).toBe(true);
    expect(
      buildLargeModel({ bytes: 4096, seed: 1 }).equals(buildLargeModel({ bytes: 4096, seed: 2 })),
    ).toBe(false);
    const file = await writeModel(path.join(dir, 'large', 'weights.onnx'), model);
    expect((await stat(file)).size).toBe(model.length);
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
    try {
      const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
      const out = await session.run({ x: new ort.Tensor('float32', x, [2, 4]) });
      expect(Array.from(out.y.data as Float32Array)).toEqual(Array.from(x));
      expect(Array.from(out.padding_size.data as BigInt64Array)).toEqual([BigInt(bytes)]);
    } finally {
      await session.release();
    }
    const zeros = await load('large-zeros', buildLargeModel({ bytes: 1000, fill: 'zeros' }));
    await zeros.release();
    expect(() => buildLargeModel({ bytes: -1 })).toThrow(RangeError);
  });

  it('writeModel creates the directories and answers the absolute path', async () => {
    const file = await writeModel(path.join(dir, 'a', 'b', 'c', 'm.onnx'), buildAddModel());
    expect(path.isAbsolute(file)).toBe(true);
    expect((await stat(file)).isFile()).toBe(true);
  });

  it('models load at other opsets and with metadata', async () => {
    for (const opset of [13, 19, 21]) {
      const session = await ort.InferenceSession.create(
        buildIdentityModel({ datatype: 'FP32', shape: [1], opset, metadata: { author: 'strata' } }),
      );
      const { output } = await session.run({
        input: new ort.Tensor('float32', Float32Array.from([3]), [1]),
      });
      expect(Array.from(output.data as Float32Array)).toEqual([3]);
      await session.release();
    }
  });
});
