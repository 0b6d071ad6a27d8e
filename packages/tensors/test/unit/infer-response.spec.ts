import {
  buildInferResponse,
  DATATYPES,
  parseInferRequest,
  parseInferResponseBody,
  type RawTensor,
} from '@strata/tensors';
import { errorOf, raw, SAMPLES } from './samples';

const META = { model_name: 'm', model_version: '3', id: 'r1' };
const Y = raw('y', 'FP32', [2], [1.5, 'NaN']);
const Z = raw('z', 'INT64', [1], ['9223372036854775807']);
const S = raw('s', 'BYTES', [2], ['ok', 'ü']);

function requestFor(json: object) {
  return parseInferRequest({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [0] }],
    ...json,
  });
}

describe('buildInferResponse', () => {
  it('answers plain JSON when no output is binary', () => {
    const built = buildInferResponse(META, [Y, Z, S]);
    expect(built.headerLength).toBeUndefined();
    expect(JSON.parse(built.body.toString())).toEqual({
      model_name: 'm',
      model_version: '3',
      id: 'r1',
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [2], data: [1.5, 'NaN'] },
        { name: 'z', datatype: 'INT64', shape: [1], data: ['9223372036854775807'] },
        { name: 's', datatype: 'BYTES', shape: [2], data: ['ok', 'ü'] },
      ],
    });
    expect(built.header).toEqual(JSON.parse(built.body.toString()));
    expect(parseInferResponseBody(built.body).outputs).toEqual([Y, Z, S]);
  });

  it('leaves out absent meta fields', () => {
    const built = buildInferResponse({ model_name: 'm' }, [Y]);
    expect(Object.keys(JSON.parse(built.body.toString()))).toEqual(['model_name', 'outputs']);
    const withParams = buildInferResponse({ model_name: 'm', parameters: { cached: true } }, [Y]);
    expect(parseInferResponseBody(withParams.body).parameters).toEqual({ cached: true });
  });

  it('sends every output binary with the request-level binary_data_output', () => {
    const built = buildInferResponse(
      META,
      [Y, Z, S],
      requestFor({ parameters: { binary_data_output: true } }),
    );
    const headerLength = built.headerLength as number;
    const header = JSON.parse(built.body.subarray(0, headerLength).toString());
    expect(header.outputs).toEqual([
      { name: 'y', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
      { name: 'z', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
      { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 12 } },
    ]);
    expect(built.body.subarray(headerLength)).toEqual(Buffer.concat([Y.data, Z.data, S.data]));
    expect(built.header).toEqual(header);
    const parsed = parseInferResponseBody(built.body, headerLength);
    expect(parsed).toEqual({ ...META, outputs: [Y, Z, S] });
  });

  it('mixes binary and JSON outputs per output, the output setting beating the request one', () => {
    const request = requestFor({
      parameters: { binary_data_output: true },
      outputs: [{ name: 'y', parameters: { binary_data: false } }, { name: 'z' }, { name: 's' }],
    });
    const built = buildInferResponse(META, [Y, Z, S], request);
    const headerLength = built.headerLength as number;
    const header = JSON.parse(built.body.subarray(0, headerLength).toString());
    expect(header.outputs[0]).toEqual({
      name: 'y',
      datatype: 'FP32',
      shape: [2],
      data: [1.5, 'NaN'],
    });
    expect(header.outputs[1].parameters).toEqual({ binary_data_size: 8 });
    expect(header.outputs[2].parameters).toEqual({ binary_data_size: 12 });
    expect(built.body.length).toBe(headerLength + 20);
    expect(parseInferResponseBody(built.body, String(headerLength)).outputs).toEqual([Y, Z, S]);
  });

  it('sends only the outputs asking for binary_data as binary', () => {
    const request = requestFor({
      outputs: [{ name: 'z', parameters: { binary_data: true } }, { name: 'y' }],
    });
    const built = buildInferResponse(META, [Y, Z], request);
    const header = JSON.parse(built.body.subarray(0, built.headerLength).toString());
    expect(header.outputs.map((o: { data?: unknown }) => o.data === undefined)).toEqual([
      false,
      true,
    ]);
    expect(parseInferResponseBody(built.body, built.headerLength).outputs).toEqual([Y, Z]);
  });

  it.each(DATATYPES)('%s outputs come back identical, as JSON and as binary', (datatype) => {
    const output = raw('o', datatype, [SAMPLES[datatype].length], SAMPLES[datatype]);
    const json = buildInferResponse(META, [output]);
    expect(parseInferResponseBody(json.body).outputs).toEqual([output]);
    const binary = buildInferResponse(
      META,
      [output],
      requestFor({ parameters: { binary_data_output: true } }),
    );
    expect(parseInferResponseBody(binary.body, binary.headerLength).outputs).toEqual([output]);
  });

  it('sends BYTES that are not UTF-8 as base64 in JSON, and raw in binary', () => {
    const bytes: RawTensor = {
      name: 'b',
      datatype: 'BYTES',
      shape: [1],
      data: Buffer.from([2, 0, 0, 0, 0xc3, 0x28]),
    };
    const json = buildInferResponse(META, [bytes]);
    expect(JSON.parse(json.body.toString()).outputs[0]).toEqual({
      name: 'b',
      datatype: 'BYTES',
      shape: [1],
      data: ['wyg='],
      parameters: { content_type: 'base64' },
    });
    expect(parseInferResponseBody(json.body).outputs).toEqual([bytes]);
    const binary = buildInferResponse(
      META,
      [bytes],
      requestFor({ parameters: { binary_data_output: true } }),
    );
    const header = JSON.parse(binary.body.subarray(0, binary.headerLength).toString());
    expect(header.outputs[0].parameters).toEqual({ binary_data_size: 6 });
  });

  it('refuses an output whose bytes do not fit its shape', () => {
    const bad: RawTensor = { name: 'y', datatype: 'FP32', shape: [2], data: Buffer.alloc(4) };
    expect(errorOf(() => buildInferResponse(META, [bad])).message).toBe(
      'output "y": 4 bytes do not hold shape [2] of FP32 (8 bytes expected)',
    );
    const request = requestFor({ parameters: { binary_data_output: true } });
    expect(errorOf(() => buildInferResponse(META, [bad], request)).message).toBe(
      'output "y": 4 bytes do not hold shape [2] of FP32 (8 bytes expected)',
    );
  });
});

describe('parseInferResponseBody', () => {
  it.each<[string, string, string]>([
    ['not JSON', '{', 'response body is not valid JSON: '],
    ['not an object', '[]', 'the response must be a JSON object, got an array'],
    ['no model name', '{"outputs": []}', 'the response has no model_name'],
    ['no outputs', '{"model_name": "m"}', 'the response has no outputs array'],
  ])('refuses %s', (_what, body, message) => {
    expect(errorOf(() => parseInferResponseBody(body)).message.startsWith(message)).toBe(true);
  });
});
