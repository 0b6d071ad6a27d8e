import {
  DATATYPES,
  decodeToJsonValues,
  encodeJsonValues,
  flattenJsonData,
  parseInferRequest,
  toJsonTensor,
  type TensorDatatype,
} from '@strata/tensors';
import { errorOf, raw, SAMPLES } from './samples';

function decodeInput(datatype: string, shape: number[], data: unknown, parameters?: object) {
  return parseInferRequest({ inputs: [{ name: 'x', datatype, shape, data, parameters }] })
    .inputs[0];
}

describe('JSON → raw bytes → JSON', () => {
  it.each(DATATYPES)('%s round-trips, extremes included', (datatype) => {
    const values = SAMPLES[datatype];
    const tensor = decodeInput(datatype, [values.length], values);
    expect(tensor.datatype).toBe(datatype);
    const json = toJsonTensor(tensor);
    expect(json).toEqual({ name: 'x', datatype, shape: [values.length], data: values });
    // and the JSON answer is itself a valid request giving the same bytes
    expect(decodeInput(datatype, json.shape, json.data).data.equals(tensor.data)).toBe(true);
  });

  it.each<[TensorDatatype, unknown[], string]>([
    ['BOOL', [true, false], '0100'],
    ['UINT8', [1, 255], '01ff'],
    ['UINT16', [0x1234], '3412'],
    ['UINT32', [0x12345678], '78563412'],
    ['UINT64', ['18446744073709551615'], 'ffffffffffffffff'],
    ['INT8', [-1, -128], 'ff80'],
    ['INT16', [-2], 'feff'],
    ['INT32', [-2147483648], '00000080'],
    ['INT64', [-1], 'ffffffffffffffff'],
    ['INT64', ['-9223372036854775808'], '0000000000000080'],
    ['FP16', [1, -2, 'Infinity'], '003c00c0007c'],
    ['FP32', [1], '0000803f'],
    ['FP64', [-2], '00000000000000c0'],
    ['BYTES', ['ab', ''], '02000000616200000000'],
  ])('%s %j is little-endian %s', (datatype, values, hex) => {
    expect(encodeJsonValues('input "x"', datatype, values).toString('hex')).toBe(hex);
  });

  it('64-bit integers are JSON numbers when safe and decimal strings beyond, element by element', () => {
    const t = raw(
      'y',
      'INT64',
      [4],
      ['9007199254740991', '9007199254740992', '-9007199254740991', '-9007199254740992'],
    );
    expect(toJsonTensor(t).data).toEqual([
      9007199254740991,
      '9007199254740992',
      -9007199254740991,
      '-9007199254740992',
    ]);
  });

  it('FP32 values are the exact value of the float', () => {
    expect(toJsonTensor(raw('y', 'FP32', [1], [0.1])).data).toEqual([Math.fround(0.1)]);
  });

  it('FP16 is decoded to numbers, specials to strings', () => {
    const t = raw('y', 'FP16', [5], [0.1, -0, 'NaN', 2 ** -24, 70000 - 10000]);
    expect(toJsonTensor(t).data).toEqual([0.0999755859375, -0, 'NaN', 2 ** -24, 60000]);
  });

  it('BYTES that are not all UTF-8 go out as base64 with content_type and come back', () => {
    const data = Buffer.from([1, 0, 0, 0, 0xff, 3, 0, 0, 0, 0x61, 0x62, 0x63]);
    const json = toJsonTensor({ name: 'y', datatype: 'BYTES', shape: [2], data });
    expect(json).toEqual({
      name: 'y',
      datatype: 'BYTES',
      shape: [2],
      data: ['/w==', 'YWJj'],
      parameters: { content_type: 'base64' },
    });
    const back = decodeInput('BYTES', [2], json.data, json.parameters);
    expect(back.data.equals(data)).toBe(true);
    expect(back.parameters).toBeUndefined();
  });

  it('keeps tensor parameters other than transport ones', () => {
    const t = decodeInput('FP32', [1], [1], { binary_data: false, scale: 2 });
    expect(t.parameters).toEqual({ binary_data: false, scale: 2 });
    expect(decodeInput('FP32', [1], [1], {}).parameters).toBeUndefined();
  });

  it('refuses invalid base64', () => {
    const e = errorOf(() => decodeInput('BYTES', [1], ['no*base64'], { content_type: 'base64' }));
    expect(e.message).toBe('input "x": element 0 is not valid base64');
  });

  it('refuses raw bytes that do not fit the shape', () => {
    expect(
      errorOf(() => decodeToJsonValues('output "y"', 'FP32', [3], Buffer.alloc(10))).message,
    ).toBe('output "y": 10 bytes do not hold shape [3] of FP32 (12 bytes expected)');
  });
});

describe('flat and nested data', () => {
  const flat = [1, 2, 3, 4, 5, 6];

  it('nested data equal to the flat data gives the same bytes', () => {
    const a = decodeInput('INT32', [2, 3], flat);
    const b = decodeInput(
      'INT32',
      [2, 3],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    );
    const c = decodeInput(
      'INT32',
      [1, 2, 3],
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ],
    );
    expect(b.data.equals(a.data)).toBe(true);
    expect(c.data.equals(a.data)).toBe(true);
    expect(toJsonTensor(b).data).toEqual(flat);
  });

  it('handles scalars and empty tensors', () => {
    expect(decodeInput('FP64', [], [2.5]).data.readDoubleLE(0)).toBe(2.5);
    expect(decodeInput('FP32', [0, 3], []).data.length).toBe(0);
    expect(decodeInput('BYTES', [2, 0], [[], []]).data.length).toBe(0);
    expect(toJsonTensor(decodeInput('BYTES', [0], [])).data).toEqual([]);
  });

  it.each<[number[], unknown, string]>([
    [[1, 3], [1, 2, 3, 4], 'input "x": shape [1,3] has 3 elements but data has 4'],
    [[2, 3], [1, 2, 3], 'input "x": shape [2,3] has 6 elements but data has 3'],
    [[], [], 'input "x": shape [] has 1 elements but data has 0'],
    [
      [2, 3],
      [[1, 2, 3]],
      'input "x": nested data does not match shape [2,3]: data has 1 elements, expected 2',
    ],
    [
      [2, 3],
      [
        [1, 2, 3],
        [4, 5],
      ],
      'input "x": nested data does not match shape [2,3]: data[1] has 2 elements, expected 3',
    ],
    [
      [2, 3],
      [[1, 2, 3], 4],
      'input "x": nested data does not match shape [2,3]: data[1] is 4, expected an array',
    ],
    [
      [2],
      [[1], [2]],
      'input "x": nested data does not match shape [2]: data[0] is an array, expected a value',
    ],
    [
      [2, 1],
      [[[1]], [[2]]],
      'input "x": nested data does not match shape [2,1]: data[0][0] is an array, expected a value',
    ],
    [
      [2, 2, 1],
      [
        [1, 2],
        [3, 4],
      ],
      'input "x": nested data does not match shape [2,2,1]: data[0][0] is 1, expected an array',
    ],
    [[3], { a: 1 }, 'input "x": data must be an array, got an object'],
    [[1], 5, 'input "x": data must be an array, got 5'],
  ])('shape %j with data %j: %s', (shape, data, message) => {
    expect(errorOf(() => decodeInput('INT32', shape, data)).message).toBe(message);
  });

  it('flattenJsonData returns flat data as is', () => {
    expect(flattenJsonData('x', [6], 6, flat)).toBe(flat);
  });
});

describe('values checked per datatype', () => {
  it.each<[TensorDatatype, unknown, string]>([
    ['UINT8', 300, 'value 300 out of range for UINT8 (element 0)'],
    ['UINT8', -1, 'value -1 out of range for UINT8 (element 0)'],
    ['UINT16', 65536, 'value 65536 out of range for UINT16 (element 0)'],
    ['UINT32', 4294967296, 'value 4294967296 out of range for UINT32 (element 0)'],
    ['INT8', 128, 'value 128 out of range for INT8 (element 0)'],
    ['INT8', -129, 'value -129 out of range for INT8 (element 0)'],
    ['INT16', -32769, 'value -32769 out of range for INT16 (element 0)'],
    ['INT32', 2147483648, 'value 2147483648 out of range for INT32 (element 0)'],
    ['INT32', 1.5, 'expected an integer for INT32, got 1.5 (element 0)'],
    ['INT32', '1', 'expected an integer for INT32, got "1" (element 0)'],
    ['UINT8', true, 'expected an integer for UINT8, got true (element 0)'],
    ['INT16', null, 'expected an integer for INT16, got null (element 0)'],
    [
      'INT64',
      '9223372036854775808',
      'value 9223372036854775808 out of range for INT64 (element 0)',
    ],
    [
      'INT64',
      '-9223372036854775809',
      'value -9223372036854775809 out of range for INT64 (element 0)',
    ],
    [
      'UINT64',
      '18446744073709551616',
      'value 18446744073709551616 out of range for UINT64 (element 0)',
    ],
    ['UINT64', -1, 'value -1 out of range for UINT64 (element 0)'],
    ['UINT64', '-1', 'value -1 out of range for UINT64 (element 0)'],
    ['INT64', '1'.repeat(400), `value ${'1'.repeat(32)}… out of range for INT64 (element 0)`],
    ['INT64', 1.5, 'expected an integer or a decimal string for INT64, got 1.5 (element 0)'],
    ['INT64', '1.5', 'expected an integer or a decimal string for INT64, got "1.5" (element 0)'],
    ['INT64', '0x10', 'expected an integer or a decimal string for INT64, got "0x10" (element 0)'],
    ['INT64', '', 'expected an integer or a decimal string for INT64, got "" (element 0)'],
    ['UINT64', false, 'expected an integer or a decimal string for UINT64, got false (element 0)'],
    [
      'INT64',
      2 ** 53,
      'value 9007199254740992 is beyond ±(2^53-1) and cannot be exact as a JSON number; send it as a decimal string (element 0)',
    ],
    ['FP32', 1e39, 'value 1e+39 out of range for FP32 (element 0)'],
    ['FP16', 65520, 'value 65520 out of range for FP16 (element 0)'],
    ['FP16', -1e5, 'value -100000 out of range for FP16 (element 0)'],
    ['FP32', '1.5', 'expected a number for FP32, got "1.5" (element 0)'],
    ['FP64', 'nan', 'expected a number for FP64, got "nan" (element 0)'],
    ['FP16', true, 'expected a number for FP16, got true (element 0)'],
    ['BOOL', 1, 'expected a boolean for BOOL, got 1 (element 0)'],
    ['BOOL', 'true', 'expected a boolean for BOOL, got "true" (element 0)'],
    ['BYTES', 1, 'expected a string for BYTES, got 1 (element 0)'],
    ['BYTES', { a: 1 }, 'expected a string for BYTES, got an object (element 0)'],
  ])('%s %j: %s', (datatype, value, message) => {
    const e = errorOf(() => decodeInput(datatype, [1], [value]));
    expect(e.status).toBe(400);
    expect(e.message).toBe(`input "x": ${message}`);
  });

  it('refuses an array among flat values', () => {
    expect(errorOf(() => decodeInput('FP32', [2], [1, [2]])).message).toBe(
      'input "x": expected a number for FP32, got an array (element 1)',
    );
  });

  it('names the element that is wrong', () => {
    expect(
      errorOf(() =>
        decodeInput(
          'UINT8',
          [2, 2],
          [
            [1, 2],
            [3, 256],
          ],
        ),
      ).message,
    ).toBe('input "x": value 256 out of range for UINT8 (element 3)');
  });

  it('cuts long strings in messages', () => {
    expect(errorOf(() => decodeInput('FP32', [1], ['x'.repeat(100)])).message).toBe(
      `input "x": expected a number for FP32, got "${'x'.repeat(32)}…" (element 0)`,
    );
  });

  it('accepts the largest finite values and rounds tiny ones', () => {
    expect(decodeInput('FP16', [1], [65519]).data.readUInt16LE(0)).toBe(0x7bff);
    expect(decodeInput('FP32', [1], [3.4028235e38]).data.readFloatLE(0)).toBe(
      3.4028234663852886e38,
    );
    expect(decodeInput('FP32', [1], [1e-50]).data.readFloatLE(0)).toBe(0);
    expect(decodeInput('FP64', [1], [Number.MAX_VALUE]).data.readDoubleLE(0)).toBe(
      Number.MAX_VALUE,
    );
  });

  it('accepts leading zeros and -0 in 64-bit decimal strings', () => {
    expect(decodeInput('INT64', [2], ['007', '-0']).data.toString('hex')).toBe(
      '07000000000000000000000000000000',
    );
  });
});
