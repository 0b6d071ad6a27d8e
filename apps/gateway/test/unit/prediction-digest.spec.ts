import type { RawTensor } from '@strata/tensors';
import {
  canonicalJson,
  predictionDigest,
  type PredictionIdentity,
} from '../../src/cache/prediction-digest';

const x: RawTensor = {
  name: 'x',
  datatype: 'FP32',
  shape: [1, 2],
  data: Buffer.from(new Float32Array([1, 2]).buffer),
};
const y: RawTensor = {
  name: 'y',
  datatype: 'INT64',
  shape: [1],
  data: Buffer.from(new BigInt64Array([3n]).buffer),
};
const base: PredictionIdentity = { model: 'm', version: 1, generation: '0', inputs: [x, y] };

describe('predictionDigest', () => {
  it('is stable, hex sha256, and ignores input order', () => {
    const d = predictionDigest(base);
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(predictionDigest({ ...base })).toBe(d);
    expect(predictionDigest({ ...base, inputs: [y, x] })).toBe(d);
  });

  it('changes with everything that determines the answer', () => {
    const d = predictionDigest(base);
    const variants: PredictionIdentity[] = [
      { ...base, model: 'n' },
      { ...base, version: 2 },
      { ...base, generation: '1' },
      { ...base, inputs: [{ ...x, data: Buffer.from(new Float32Array([1, 2.5]).buffer) }, y] },
      { ...base, inputs: [{ ...x, shape: [2, 1] }, y] },
      { ...base, inputs: [{ ...x, datatype: 'INT32' }, y] },
      { ...base, inputs: [{ ...x, name: 'z' }, y] },
      { ...base, inputs: [x] },
      { ...base, outputs: ['a'] },
      { ...base, outputs: [] },
      { ...base, parameters: { threshold: 0.5 } },
      { ...base, scope: 'item' },
    ];
    const digests = variants.map((v) => predictionDigest(v));
    expect(digests).not.toContain(d);
    expect(new Set(digests).size).toBe(variants.length);
  });

  it('keeps the order of requested outputs (the answer follows it)', () => {
    expect(predictionDigest({ ...base, outputs: ['a', 'b'] })).not.toBe(
      predictionDigest({ ...base, outputs: ['b', 'a'] }),
    );
  });

  it('cannot be fooled by moving bytes between adjacent fields', () => {
    const a = predictionDigest({ ...base, model: 'ab', generation: 'c' });
    const b = predictionDigest({ ...base, model: 'a', generation: 'bc' });
    expect(a).not.toBe(b);
    const t1: RawTensor = { name: 'xy', datatype: 'UINT8', shape: [1], data: Buffer.from([1]) };
    const t2: RawTensor = { name: 'x', datatype: 'UINT8', shape: [1], data: Buffer.from([1]) };
    expect(predictionDigest({ ...base, inputs: [t1] })).not.toBe(
      predictionDigest({ ...base, inputs: [t2] }),
    );
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});
