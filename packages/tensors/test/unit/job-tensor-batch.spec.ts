import {
  concatBatch,
  decodeBytesElements,
  DATATYPES,
  encodeBytesElements,
  fromJobTensor,
  splitBatch,
  toBlobJobTensor,
  toJobTensor,
  toJsonTensor,
  totalBytes,
  type RawTensor,
} from '@strata/tensors';
import { errorOf, raw, SAMPLES } from './samples';

describe('job tensors', () => {
  it.each(DATATYPES)('%s round-trips through a job tensor (base64)', (datatype) => {
    const tensor = raw('x', datatype, [2, 2], SAMPLES[datatype].slice(0, 4));
    const job = toJobTensor(tensor);
    expect(job).toEqual({
      name: 'x',
      datatype,
      shape: [2, 2],
      data: tensor.data.toString('base64'),
    });
    expect(JSON.parse(JSON.stringify(job))).toEqual(job);
    expect(fromJobTensor(job)).toEqual(tensor);
  });

  it('a blob job tensor carries the key and needs the blob back', () => {
    const tensor = raw('x', 'FP32', [2], [1, 2]);
    const job = toBlobJobTensor(tensor, 'strata:blob:abc');
    expect(job).toEqual({ name: 'x', datatype: 'FP32', shape: [2], blobKey: 'strata:blob:abc' });
    expect(fromJobTensor(job, tensor.data)).toEqual(tensor);
    expect(errorOf(() => fromJobTensor(job)).message).toBe(
      'tensor "x": its bytes are in blob strata:blob:abc; fetch and pass them',
    );
  });

  it('refuses job tensors without data or with the wrong size', () => {
    expect(errorOf(() => fromJobTensor({ name: 'x', datatype: 'FP32', shape: [1] })).message).toBe(
      'tensor "x": has neither data nor blobKey',
    );
    expect(
      errorOf(() => fromJobTensor({ name: 'x', datatype: 'INT64', shape: [2], data: 'AAAA' }))
        .message,
    ).toBe('tensor "x": 3 bytes do not hold shape [2] of INT64 (16 bytes expected)');
  });

  it('totalBytes', () => {
    expect(totalBytes([raw('a', 'FP64', [2], [1, 2]), raw('b', 'BYTES', [1], ['abc'])])).toBe(23);
  });
});

describe('BYTES elements', () => {
  it('encodes strings and bytes with 4-byte little-endian lengths and decodes them back', () => {
    const data = encodeBytesElements(['hé', Buffer.from([0, 255]), '']);
    expect(data.toString('hex')).toBe('0300000068c3a9' + '0200000000ff' + '00000000');
    const elements = decodeBytesElements(data);
    expect(elements.map((e) => e.toString('hex'))).toEqual(['68c3a9', '00ff', '']);
    expect(decodeBytesElements(data, [3])).toHaveLength(3);
    expect(errorOf(() => decodeBytesElements(data, [2], 'output "s"')).message).toBe(
      'output "s": BYTES data holds more than the 2 elements of shape [2]',
    );
    expect(decodeBytesElements(Buffer.alloc(0))).toEqual([]);
  });

  it('reads elements of an unaligned view', () => {
    const data = Buffer.concat([Buffer.from([7]), encodeBytesElements(['ab'])]).subarray(1);
    expect(
      decodeBytesElements(new Uint8Array(data.buffer, data.byteOffset, data.length))[0].toString(),
    ).toBe('ab');
  });
});

describe('concatBatch / splitBatch', () => {
  it.each(DATATYPES)('%s: joins along the first dimension and splits back', (datatype) => {
    const values = SAMPLES[datatype];
    const a = raw('x', datatype, [1, 2], values.slice(0, 2));
    const b = raw('x', datatype, [2, 2], [...values.slice(2, 4), ...values.slice(0, 2)]);
    const c = raw('x', datatype, [0, 2], []);
    const joined = concatBatch([a, b, c]);
    expect(joined.shape).toEqual([3, 2]);
    expect(toJsonTensor(joined).data).toEqual([...values.slice(0, 4), ...values.slice(0, 2)]);
    const parts = splitBatch(joined, [1, 2, 0]);
    expect(parts).toEqual([a, b, c]);
    expect(splitBatch(joined, [0, 3])[1].data.equals(joined.data)).toBe(true);
  });

  it('keeps a single tensor as is and splits into views', () => {
    const a = raw('x', 'FP32', [2, 1], [1, 2]);
    expect(concatBatch([a]).data).toBe(a.data);
    const [first] = splitBatch(a, [1, 1]);
    expect(first.data.buffer).toBe(a.data.buffer);
  });

  it('splits BYTES rows with several elements each', () => {
    const t = raw('s', 'BYTES', [3, 2], ['a', 'bb', '', 'ccc', 'dddd', 'e']);
    const parts = splitBatch(t, [2, 1]);
    expect(parts.map((p) => toJsonTensor(p).data)).toEqual([
      ['a', 'bb', '', 'ccc'],
      ['dddd', 'e'],
    ]);
    expect(parts[1].shape).toEqual([1, 2]);
  });

  it.each<[string, () => unknown, string]>([
    ['no tensors', () => concatBatch([]), 'concatBatch: no tensors'],
    [
      'mixed datatypes',
      () => concatBatch([raw('a', 'FP32', [1], [1]), raw('b', 'FP64', [1], [1])]),
      'tensor "b": datatype FP64 cannot join FP32',
    ],
    [
      'mismatched trailing dimensions',
      () => concatBatch([raw('a', 'FP32', [1, 2], [1, 2]), raw('b', 'FP32', [1, 1], [1])]),
      'tensor "b": shape [1,1] cannot join [1,2] along the first dimension',
    ],
    [
      'mismatched ranks',
      () => concatBatch([raw('a', 'FP32', [1, 1], [1]), raw('b', 'FP32', [1], [1])]),
      'tensor "b": shape [1] cannot join [1,1] along the first dimension',
    ],
    [
      'scalars',
      () => concatBatch([raw('a', 'FP32', [], [1])]),
      'tensor "a": a scalar has no batch dimension',
    ],
    [
      'bytes that do not fit',
      () => concatBatch([{ name: 'a', datatype: 'FP32', shape: [2], data: Buffer.alloc(4) }]),
      'tensor "a": 4 bytes do not hold shape [2] of FP32 (8 bytes expected)',
    ],
    [
      'sizes that do not add up',
      () => splitBatch(raw('a', 'FP32', [3], [1, 2, 3]), [1, 1]),
      'tensor "a": batch sizes add up to 2 but the first dimension of [3] is 3',
    ],
    [
      'negative sizes',
      () => splitBatch(raw('a', 'FP32', [3], [1, 2, 3]), [4, -1]),
      'tensor "a": batch sizes must be non-negative integers, got -1',
    ],
    [
      'a scalar',
      () => splitBatch(raw('a', 'FP32', [], [1]), [1]),
      'tensor "a": a scalar has no batch dimension',
    ],
  ])('refuses %s', (_what, fn, message) => {
    expect(errorOf(fn).message).toBe(message);
  });

  it('works on tensors whose names differ (the name is the first one)', () => {
    const joined = concatBatch([raw('a', 'INT8', [1], [1]), raw('b', 'INT8', [1], [2])]);
    expect(joined.name).toBe('a');
    const parts: RawTensor[] = splitBatch(joined, [1, 1]);
    expect(parts.map((p) => p.data[0])).toEqual([1, 2]);
  });
});
