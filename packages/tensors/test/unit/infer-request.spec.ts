import {
  buildInferRequestBody,
  DATATYPES,
  parseInferRequest,
  parseInferRequestBody,
  wantsBinaryOutput,
  type RawTensor,
} from '@strata/tensors';
import { errorOf, raw, SAMPLES } from './samples';

const X = { name: 'x', datatype: 'FP32', shape: [2], data: [1, 2] };

/** A binary request body by hand: header JSON, then the binary parts in order. */
function body(header: object, ...parts: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}

function f32(...values: number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

describe('parseInferRequest', () => {
  it('reads id, parameters, inputs and requested outputs', () => {
    const request = parseInferRequest({
      id: 'r1',
      parameters: { binary_data_output: true, priority: 1 },
      inputs: [X],
      outputs: [{ name: 'y', parameters: { binary_data: false } }, { name: 'z' }],
    });
    expect(request.id).toBe('r1');
    expect(request.parameters).toEqual({ binary_data_output: true, priority: 1 });
    expect(request.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [2], data: f32(1, 2) }]);
    expect(request.outputs).toEqual([
      { name: 'y', parameters: { binary_data: false } },
      { name: 'z' },
    ]);
    expect(wantsBinaryOutput(request, 'y')).toBe(false);
    expect(wantsBinaryOutput(request, 'z')).toBe(true);
    expect(wantsBinaryOutput(request, 'other')).toBe(true);
  });

  it('an output wants binary only when asked', () => {
    const request = parseInferRequest({
      inputs: [X],
      outputs: [{ name: 'y', parameters: { binary_data: true } }, { name: 'z' }],
    });
    expect(wantsBinaryOutput(request, 'y')).toBe(true);
    expect(wantsBinaryOutput(request, 'z')).toBe(false);
    expect(wantsBinaryOutput(undefined, 'z')).toBe(false);
  });

  it.each<[string, unknown, string]>([
    ['a non-object request', [X], 'the request must be a JSON object, got an array'],
    ['no inputs', {}, 'inputs must be a non-empty array, got nothing'],
    ['empty inputs', { inputs: [] }, 'inputs must be a non-empty array, got an array'],
    ['a non-string id', { id: 5, inputs: [X] }, 'id must be a string, got 5'],
    [
      'bad request parameters',
      { parameters: [], inputs: [X] },
      'the request: parameters must be an object, got an array',
    ],
    [
      'a non-boolean binary_data_output',
      { parameters: { binary_data_output: 'yes' }, inputs: [X] },
      'parameters.binary_data_output must be a boolean, got "yes"',
    ],
    ['a non-object input', { inputs: [X, 3] }, 'input #1: must be an object, got 3'],
    [
      'an unnamed input',
      { inputs: [{ ...X, name: '' }] },
      'input #0: name must be a non-empty string',
    ],
    [
      'an unknown datatype',
      { inputs: [{ ...X, datatype: 'FLOAT32' }] },
      'input "x": unknown datatype "FLOAT32"',
    ],
    [
      'a lower-case datatype',
      { inputs: [{ ...X, datatype: 'fp32' }] },
      'input "x": unknown datatype "fp32"',
    ],
    [
      'a shape that is no array',
      { inputs: [{ ...X, shape: 2 }] },
      'input "x": shape must be an array of integers, got 2',
    ],
    [
      'a negative dimension',
      { inputs: [{ ...X, shape: [-1, 2] }] },
      'input "x": shape must be an array of non-negative integers, got -1 in it',
    ],
    [
      'a fractional dimension',
      { inputs: [{ ...X, shape: [1.5] }] },
      'input "x": shape must be an array of non-negative integers, got 1.5 in it',
    ],
    [
      'input parameters that are no object',
      { inputs: [{ ...X, parameters: 'p' }] },
      'input "x": parameters must be an object, got "p"',
    ],
    [
      'no data',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }] },
      'input "x": no data (give data, or binary_data_size with binary data)',
    ],
    ['the same input twice', { inputs: [X, X] }, 'input "x": given more than once'],
    [
      'outputs that are no array',
      { inputs: [X], outputs: {} },
      'outputs must be an array, got an object',
    ],
    [
      'an unnamed output',
      { inputs: [X], outputs: [{ parameters: {} }] },
      'output #0: must be an object with a non-empty name',
    ],
    [
      'an output twice',
      { inputs: [X], outputs: [{ name: 'y' }, { name: 'y' }] },
      'output "y": requested more than once',
    ],
    [
      'a non-boolean binary_data',
      { inputs: [X], outputs: [{ name: 'y', parameters: { binary_data: 1 } }] },
      'output "y": binary_data must be a boolean, got 1',
    ],
    [
      'binary_data_size without a binary part',
      { inputs: [{ ...X, data: undefined, parameters: { binary_data_size: 8 } }] },
      'input "x": binary_data_size given but the body has no binary part (no Inference-Header-Content-Length)',
    ],
  ])('refuses %s', (_what, json, message) => {
    const e = errorOf(() => parseInferRequest(json));
    expect(e.status).toBe(400);
    expect(e.message).toBe(message);
  });

  it('refuses a body that is not JSON', () => {
    const e = errorOf(() => parseInferRequestBody('{"inputs": ['));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/^request body is not valid JSON: /);
  });

  it('parses a plain JSON body (string or Buffer) without a header length', () => {
    const json = JSON.stringify({ inputs: [X] });
    expect(parseInferRequestBody(json).inputs[0].data).toEqual(f32(1, 2));
    expect(parseInferRequestBody(Buffer.from(json), undefined).inputs[0].data).toEqual(f32(1, 2));
    expect(parseInferRequestBody(Buffer.from(json), '').inputs[0].data).toEqual(f32(1, 2));
  });
});

describe('limits', () => {
  it('refuses a tensor with too many elements (413), before reading its data', () => {
    const e = errorOf(() =>
      parseInferRequest(
        { inputs: [{ name: 'x', datatype: 'FP32', shape: [10, 11], data: 'never read' }] },
        { limits: { maxElementsPerTensor: 100 } },
      ),
    );
    expect(e.status).toBe(413);
    expect(e.message).toBe('input "x": shape [10,11] has more than 100 elements (the limit)');
  });

  it('catches shapes whose product overflows, and lets a zero dimension through', () => {
    const big = { name: 'x', datatype: 'UINT8', shape: [2 ** 40, 2 ** 40, 2 ** 40], data: [] };
    expect(errorOf(() => parseInferRequest({ inputs: [big] })).status).toBe(413);
    const empty = { ...big, shape: [2 ** 40, 2 ** 40, 0] };
    expect(parseInferRequest({ inputs: [empty] }).inputs[0].data.length).toBe(0);
  });

  it('refuses too many inputs (413)', () => {
    const inputs = Array.from({ length: 4 }, (_, i) => ({ ...X, name: `x${i}` }));
    const e = errorOf(() => parseInferRequest({ inputs }, { limits: { maxInputs: 3 } }));
    expect(e.status).toBe(413);
    expect(e.message).toBe('the request has 4 inputs, over the limit of 3');
    expect(parseInferRequest({ inputs }, { limits: { maxInputs: 4 } }).inputs).toHaveLength(4);
  });

  it('refuses JSON inputs over the total byte limit (413), naming the one that crosses it', () => {
    const inputs = [
      { name: 'a', datatype: 'FP32', shape: [2], data: [1, 2] },
      { name: 'b', datatype: 'FP64', shape: [1], data: [1] },
    ];
    expect(parseInferRequest({ inputs }, { limits: { maxTotalBytes: 16 } }).inputs).toHaveLength(2);
    const e = errorOf(() => parseInferRequest({ inputs }, { limits: { maxTotalBytes: 15 } }));
    expect(e.status).toBe(413);
    expect(e.message).toBe('input "b": the inputs reach 16 bytes, over the limit of 15');
  });

  it('counts BYTES with their length prefixes', () => {
    const inputs = [{ name: 's', datatype: 'BYTES', shape: [2], data: ['abc', 'de'] }];
    expect(parseInferRequest({ inputs }, { limits: { maxTotalBytes: 13 } }).inputs).toHaveLength(1);
    const e = errorOf(() => parseInferRequest({ inputs }, { limits: { maxTotalBytes: 12 } }));
    expect(e).toMatchObject({
      status: 413,
      message: 'input "s": the inputs reach 13 bytes, over the limit of 12',
    });
  });

  it('refuses a binary part over the total byte limit (413) before anything else', () => {
    const b = body(
      {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [4], parameters: { binary_data_size: 16 } }],
      },
      f32(1, 2, 3, 4),
    );
    const e = errorOf(() =>
      parseInferRequestBody(b.body, b.headerLength, { limits: { maxTotalBytes: 8 } }),
    );
    expect(e).toMatchObject({
      status: 413,
      message: 'the binary data has 16 bytes, over the limit of 8',
    });
  });
});

describe('binary tensor data extension (requests)', () => {
  it.each(DATATYPES)('%s round-trips as binary data', (datatype) => {
    const input = raw('x', datatype, [SAMPLES[datatype].length], SAMPLES[datatype]);
    const built = buildInferRequestBody([input], { binaryInputs: true });
    expect(built.headerLength).toBeDefined();
    const header = JSON.parse(built.body.subarray(0, built.headerLength).toString());
    expect(header.inputs[0]).toEqual({
      name: 'x',
      datatype,
      shape: [SAMPLES[datatype].length],
      parameters: { binary_data_size: input.data.length },
    });
    const parsed = parseInferRequestBody(built.body, built.headerLength);
    expect(parsed.inputs).toEqual([input]);
  });

  it('mixes binary and JSON inputs, binary parts in input order', () => {
    const inputs: RawTensor[] = [
      raw('a', 'FP32', [2], [1.5, -2]),
      raw('b', 'INT64', [1, 2], ['-9223372036854775808', 7]),
      raw('c', 'BYTES', [3], ['x', '', 'yz']),
      raw('d', 'BOOL', [2], [true, false]),
      raw('e', 'FP16', [1], [0.5]),
    ];
    const built = buildInferRequestBody(inputs, {
      binaryInputs: ['b', 'c', 'e'],
      id: 'mixed',
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    });
    const header = JSON.parse(built.body.subarray(0, built.headerLength).toString());
    expect(header.inputs.map((i: { data?: unknown }) => i.data !== undefined)).toEqual([
      true,
      false,
      false,
      true,
      false,
    ]);
    expect(built.body.length - (built.headerLength as number)).toBe(16 + 15 + 2);
    const parsed = parseInferRequestBody(built.body, String(built.headerLength));
    expect(parsed.id).toBe('mixed');
    expect(parsed.inputs).toEqual(inputs);
    expect(parsed.outputs).toEqual([{ name: 'y', parameters: { binary_data: true } }]);
  });

  it('a request without binary inputs is plain JSON', () => {
    const built = buildInferRequestBody([raw('a', 'FP32', [1], [1])]);
    expect(built.headerLength).toBeUndefined();
    expect(parseInferRequestBody(built.body).inputs[0].data).toEqual(f32(1));
  });

  it('binary inputs are views of the body, not copies', () => {
    const b = body(
      {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }],
      },
      f32(3, 4),
    );
    const parsed = parseInferRequestBody(b.body, b.headerLength);
    expect(parsed.inputs[0].data.buffer).toBe(b.body.buffer);
    expect(parsed.inputs[0].parameters).toBeUndefined();
  });

  it('accepts a zero-size binary tensor and a binary part that is empty', () => {
    const b = body({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [0], parameters: { binary_data_size: 0 } }],
    });
    expect(parseInferRequestBody(b.body, b.headerLength).inputs[0].shape).toEqual([0]);
  });

  const binaryX = (size: number, extra: object = {}) => ({
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: size }, ...extra },
    ],
  });

  it.each<[string, () => { body: Buffer; headerLength: number | string }, string]>([
    [
      'more bytes than declared',
      () => body(binaryX(8), f32(1, 2, 3)),
      'binary_data_size of the tensors add up to 8 bytes but the body has 12 bytes after the header',
    ],
    [
      'fewer bytes than declared',
      () => body(binaryX(8), f32(1)),
      'binary_data_size of the tensors add up to 8 bytes but the body has 4 bytes after the header',
    ],
    [
      'a size that does not fit the shape',
      () => body(binaryX(12), f32(1, 2, 3)),
      'input "x": binary_data_size 12 does not match shape [2] of FP32 (8 bytes)',
    ],
    [
      'a negative size',
      () => body(binaryX(-8), f32(1, 2)),
      'input "x": binary_data_size must be a non-negative integer, got -8',
    ],
    [
      'a size that is a string',
      () => body(binaryX('8' as unknown as number), f32(1, 2)),
      'input "x": binary_data_size must be a non-negative integer, got "8"',
    ],
    [
      'both data and binary_data_size',
      () => body(binaryX(8, { data: [1, 2] }), f32(1, 2)),
      'input "x": has both data and binary_data_size; give one',
    ],
    [
      'a header length past the body',
      () => ({ ...body(binaryX(8), f32(1, 2)), headerLength: 1000 }),
      'Inference-Header-Content-Length 1000 is larger than the body (',
    ],
    [
      'a header length that is no number',
      () => ({ ...body(binaryX(8), f32(1, 2)), headerLength: '12abc' }),
      'Inference-Header-Content-Length must be a non-negative integer, got "12abc"',
    ],
    [
      'a header length that cuts the JSON',
      () => {
        const b = body(binaryX(8), f32(1, 2));
        return { ...b, headerLength: b.headerLength - 1 };
      },
      'the JSON header of the request is not valid JSON: ',
    ],
    [
      'BOOL bytes other than 0 and 1',
      () =>
        body(
          {
            inputs: [
              { name: 'x', datatype: 'BOOL', shape: [2], parameters: { binary_data_size: 2 } },
            ],
          },
          Buffer.from([1, 2]),
        ),
      'input "x": byte 2 is not a BOOL (0 or 1) (element 1)',
    ],
    [
      'BYTES with fewer elements than the shape',
      () =>
        body(
          {
            inputs: [
              { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 5 } },
            ],
          },
          Buffer.from([1, 0, 0, 0, 0x61]),
        ),
      'input "s": BYTES data holds 1 elements but shape [2] has 2',
    ],
    [
      'BYTES with more elements than the shape',
      () =>
        body(
          {
            inputs: [
              { name: 's', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 8 } },
            ],
          },
          Buffer.alloc(8),
        ),
      'input "s": BYTES data holds more than the 1 elements of shape [1]',
    ],
    [
      'a BYTES element longer than its data',
      () =>
        body(
          {
            inputs: [
              { name: 's', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 6 } },
            ],
          },
          Buffer.from([9, 0, 0, 0, 0x61, 0x62]),
        ),
      'input "s": BYTES element 0 declares 9 bytes but only 2 remain',
    ],
    [
      'a BYTES length prefix cut off',
      () =>
        body(
          {
            inputs: [
              { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 7 } },
            ],
          },
          Buffer.from([1, 0, 0, 0, 0x61, 0, 0]),
        ),
      'input "s": BYTES element 1 is cut off in its 4-byte length',
    ],
  ])('refuses %s', (_what, make, message) => {
    const b = make();
    const e = errorOf(() => parseInferRequestBody(b.body, b.headerLength));
    expect(e.status).toBe(400);
    expect(e.message.startsWith(message)).toBe(true);
  });

  it('checks sizes per tensor when several are binary', () => {
    const b = body(
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 8 } },
          { name: 'b', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 8 } },
        ],
      },
      f32(1, 2, 3, 4),
    );
    expect(errorOf(() => parseInferRequestBody(b.body, b.headerLength)).message).toBe(
      'input "a": binary_data_size 8 does not match shape [1] of FP32 (4 bytes)',
    );
  });
});
