import { stringifyJson } from './json-writer';
import { toJsonTensor } from './json-encode';
import { NO_TENSOR_LIMITS } from './limits';
import { checkRawSize } from './raw-tensor';
import {
  BINARY_DATA_SIZE,
  decodeTensorEntry,
  isObject,
  readTensorEntry,
  sliceBinaryPart,
  splitBody,
} from './tensor-entry';
import { describeValue, tensorLabel, TensorError } from './tensor-error';
import { wantsBinaryOutput, type ParsedInferRequest } from './infer-request';
import type { JsonResponseTensor, RawTensor, TensorParameters } from './types';

/** The fields of a response other than its outputs. */
export interface InferResponseMeta {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: TensorParameters;
}

/** The JSON of a response (the whole body, or the header of a binary one). */
export interface InferResponseJson extends InferResponseMeta {
  outputs: JsonResponseTensor[];
}

export interface BuiltInferResponse {
  body: Buffer;
  /** Set when some output is binary: send it as `Inference-Header-Content-Length`. */
  headerLength?: number;
  /** The JSON part. */
  header: InferResponseJson;
}

/**
 * A response body. Outputs are sent in the order given; an output the request wants binary
 * (see wantsBinaryOutput) goes after the JSON header with `parameters.binary_data_size` and no
 * `data`, the others as JSON data. Without any binary output the body is plain JSON and
 * `headerLength` is undefined.
 */
export function buildInferResponse(
  meta: InferResponseMeta,
  outputs: readonly RawTensor[],
  request?: Pick<ParsedInferRequest, 'outputs' | 'parameters'>,
): BuiltInferResponse {
  const binaries: Buffer[] = [];
  const tensors = outputs.map((output): JsonResponseTensor => {
    if (!wantsBinaryOutput(request, output.name)) return toJsonTensor(output);
    checkRawSize(tensorLabel('output', output.name), output.datatype, output.shape, output.data);
    binaries.push(output.data);
    return {
      name: output.name,
      datatype: output.datatype,
      shape: [...output.shape],
      parameters: { ...output.parameters, [BINARY_DATA_SIZE]: output.data.length },
    };
  });
  const header: InferResponseJson = {
    model_name: meta.model_name,
    ...(meta.model_version !== undefined && { model_version: meta.model_version }),
    ...(meta.id !== undefined && { id: meta.id }),
    ...(meta.parameters !== undefined && { parameters: meta.parameters }),
    outputs: tensors,
  };
  const json = Buffer.from(stringifyJson(header), 'utf8');
  if (binaries.length === 0) return { body: json, header };
  return { body: Buffer.concat([json, ...binaries]), headerLength: json.length, header };
}

/** A decoded response: the client side of buildInferResponse. */
export interface ParsedInferResponse extends InferResponseMeta {
  outputs: RawTensor[];
}

/** Decodes a response body (JSON, or JSON header + binary outputs). No limits apply. */
export function parseInferResponseBody(
  body: Buffer | string,
  headerLength?: number | string | null,
): ParsedInferResponse {
  const { json, binary } = splitBody(body, headerLength, 'response');
  if (!isObject(json)) {
    throw new TensorError(`the response must be a JSON object, got ${describeValue(json)}`);
  }
  if (typeof json.model_name !== 'string') throw new TensorError('the response has no model_name');
  if (!Array.isArray(json.outputs)) throw new TensorError('the response has no outputs array');
  const entries = json.outputs.map((o, i) =>
    readTensorEntry('output', i, o, NO_TENSOR_LIMITS.maxElementsPerTensor),
  );
  const slices = sliceBinaryPart(entries, binary);
  const response: ParsedInferResponse = {
    model_name: json.model_name,
    outputs: entries.map((e, i) => decodeTensorEntry(e, slices[i])),
  };
  if (typeof json.model_version === 'string') response.model_version = json.model_version;
  if (typeof json.id === 'string') response.id = json.id;
  if (isObject(json.parameters)) response.parameters = json.parameters;
  return response;
}
