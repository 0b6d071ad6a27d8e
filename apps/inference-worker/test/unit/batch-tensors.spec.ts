import type { RawTensor } from '@strata/tensors';
import { concatAlong, splitAlong } from '../../src/batching/batch-tensors';

function f32(name: string, shape: number[], values: number[]): RawTensor {
  return { name, datatype: 'FP32', shape, data: Buffer.from(new Float32Array(values).buffer) };
}
const values = (t: RawTensor) => [
  ...new Float32Array(
    t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength),
  ),
];

describe('concatAlong / splitAlong', () => {
  // state-like tensors [2, n, 2]: element value = 100·lead + 10·item + inner, per request offset.
  const state = (n: number, base: number) => {
    const v: number[] = [];
    for (let l = 0; l < 2; l++)
      for (let i = 0; i < n; i++) for (let k = 0; k < 2; k++) v.push(base + 100 * l + 10 * i + k);
    return f32('state', [2, n, 2], v);
  };

  it('joins along an inner axis, block by block of the leading axes', () => {
    const joined = concatAlong([state(1, 0), state(2, 1000)], 1);
    expect(joined.shape).toEqual([2, 3, 2]);
    expect(values(joined)).toEqual([
      0, 1, 1000, 1001, 1010, 1011, 100, 101, 1100, 1101, 1110, 1111,
    ]);
  });

  it('splits back to exactly the parts it joined', () => {
    const parts = [state(1, 0), state(2, 1000), state(3, 5000)];
    const split = splitAlong(concatAlong(parts, 1), [1, 2, 3], 1);
    expect(split.map((p) => p.shape)).toEqual(parts.map((p) => p.shape));
    split.forEach((p, i) => expect(p.data.equals(parts[i].data)).toBe(true));
  });

  it('uses the first axis as @strata/tensors does', () => {
    const a = f32('x', [1, 2], [1, 2]);
    const b = f32('x', [2, 2], [3, 4, 5, 6]);
    const joined = concatAlong([a, b], 0);
    expect(joined.shape).toEqual([3, 2]);
    expect(values(joined)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(splitAlong(joined, [1, 2], 0).map(values)).toEqual([
      [1, 2],
      [3, 4, 5, 6],
    ]);
  });

  it('refuses tensors that differ before the batch axis', () => {
    expect(() =>
      concatAlong([f32('s', [2, 1, 1], [1, 2]), f32('s', [3, 1, 1], [1, 2, 3])], 1),
    ).toThrow(/differ before batch axis 1/);
    expect(() => splitAlong(f32('s', [2, 3], [1, 2, 3, 4, 5, 6]), [1, 1], 1)).toThrow(
      /add up to 2/,
    );
  });
});
