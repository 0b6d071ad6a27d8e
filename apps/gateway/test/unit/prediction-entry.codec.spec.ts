import type { RawTensor } from '@strata/tensors';
import {
  CorruptEntryError,
  decodePredictionEntry,
  encodePredictionEntry,
} from '../../src/cache/prediction-entry.codec';

const outputs: RawTensor[] = [
  {
    name: 'scores',
    datatype: 'FP32',
    shape: [1, 3],
    data: Buffer.from(new Float32Array([0.1, -0, NaN]).buffer),
  },
  {
    name: 'labels',
    datatype: 'BYTES',
    shape: [2],
    data: Buffer.from([1, 0, 0, 0, 0x61, 0, 0, 0, 0]),
  },
  { name: 'empty', datatype: 'INT64', shape: [0, 4], data: Buffer.alloc(0) },
];

describe('prediction entry codec', () => {
  it('round-trips outputs byte for byte (signed zeros and NaN included) and the compute time', () => {
    const bytes = encodePredictionEntry({ outputs, computeMs: 1.23456 });
    const back = decodePredictionEntry(bytes);
    expect(back.computeMs).toBe(1.235);
    expect(back.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual(
      outputs.map((o) => [o.name, o.datatype, o.shape]),
    );
    back.outputs.forEach((o, i) => expect(o.data.equals(outputs[i].data)).toBe(true));
  });

  it('stores raw bytes: an FP32 embedding costs its size plus a small header', () => {
    const embedding: RawTensor = {
      name: 'e',
      datatype: 'FP32',
      shape: [1, 768],
      data: Buffer.alloc(768 * 4),
    };
    expect(encodePredictionEntry({ outputs: [embedding], computeMs: 0 }).length).toBeLessThan(
      768 * 4 + 100,
    );
  });

  it('refuses bytes that are not an intact entry', () => {
    const good = encodePredictionEntry({ outputs, computeMs: 1 });
    const bad = [
      Buffer.alloc(0),
      Buffer.from('hello world'),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.from([0])]),
      Buffer.concat([good.subarray(0, 8), Buffer.from('{not json'), good.subarray(8)]),
    ];
    for (const b of bad) expect(() => decodePredictionEntry(b)).toThrow(CorruptEntryError);
    const header = Buffer.from(JSON.stringify({ o: [{ n: 'x', d: 'FP99', s: [1], l: 0 }], c: 0 }));
    const prefix = Buffer.alloc(8);
    prefix.write('SPE1', 0, 'ascii');
    prefix.writeUInt32LE(header.length, 4);
    expect(() => decodePredictionEntry(Buffer.concat([prefix, header]))).toThrow(
      /malformed output/,
    );
  });
});
