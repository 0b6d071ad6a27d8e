import { stringifyJson } from './json-writer';
import { toJsonTensor } from './json-encode';
import { checkRawSize } from './raw-tensor';
import { BINARY_DATA_SIZE } from './tensor-entry';
import { tensorLabel } from './tensor-error';
import type { JsonRequestTensor, RawTensor, RequestedOutput, TensorParameters } from './types';

export interface InferRequestBodyOptions {
  id?: string;
  parameters?: TensorParameters;
  outputs?: RequestedOutput[];
  /** Inputs to send as binary data: all (true), none (false, the default), or these names. */
  binaryInputs?: boolean | readonly string[];
}

export interface BuiltInferRequest {
  body: Buffer;
  /** Set when some input is binary: send it as `Inference-Header-Content-Length`. */
  headerLength?: number;
}

/**
 * A request body, as a client sends it: the client side of parseInferRequestBody, for tests,
 * benchmarks and the workflow runner.
 */
export function buildInferRequestBody(
  inputs: readonly RawTensor[],
  options: InferRequestBodyOptions = {},
): BuiltInferRequest {
  const { binaryInputs = false } = options;
  const isBinary = (name: string): boolean =>
    binaryInputs === true || (Array.isArray(binaryInputs) && binaryInputs.includes(name));
  const binaries: Buffer[] = [];
  const tensors = inputs.map((input): JsonRequestTensor => {
    if (!isBinary(input.name)) return toJsonTensor(input, 'input') as JsonRequestTensor;
    checkRawSize(tensorLabel('input', input.name), input.datatype, input.shape, input.data);
    binaries.push(input.data);
    return {
      name: input.name,
      datatype: input.datatype,
      shape: [...input.shape],
      parameters: { ...input.parameters, [BINARY_DATA_SIZE]: input.data.length },
    };
  });
  const header: Record<string, unknown> = {};
  if (options.id !== undefined) header.id = options.id;
  if (options.parameters !== undefined) header.parameters = options.parameters;
  header.inputs = tensors;
  if (options.outputs !== undefined) header.outputs = options.outputs;
  const json = Buffer.from(stringifyJson(header), 'utf8');
  if (binaries.length === 0) return { body: json };
  return { body: Buffer.concat([json, ...binaries]), headerLength: json.length };
}
