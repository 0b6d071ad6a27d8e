import { resolveLimits, type TensorLimits } from './limits';
import { validateInputs, validateRequestedOutputs, type ModelSignature } from './model-validation';
import {
  BINARY_DATA,
  BINARY_DATA_OUTPUT,
  checkParameters,
  decodeTensorEntry,
  isObject,
  readTensorEntry,
  sliceBinaryPart,
  splitBody,
  type TensorEntry,
} from './tensor-entry';
import { describeValue, tensorLabel, TensorError } from './tensor-error';
import type { RawTensor, RequestedOutput, TensorParameters } from './types';

/** An inference request with every input decoded to raw bytes. */
export interface ParsedInferRequest {
  id?: string;
  /** Request-level parameters as given (`binary_data_output` among them). */
  parameters?: TensorParameters;
  /** In request order, or in the model's input order when a model was given. */
  inputs: RawTensor[];
  /** The requested outputs as given; absent means all. */
  outputs?: RequestedOutput[];
}

export interface ParseInferRequestOptions {
  limits?: Partial<TensorLimits>;
  /** When given, inputs and requested outputs are checked against it before any data is read. */
  model?: ModelSignature;
}

function readOutputs(value: unknown): RequestedOutput[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw new TensorError(`outputs must be an array, got ${describeValue(value)}`);
  }
  const seen = new Set<string>();
  return value.map((entry, index) => {
    if (!isObject(entry) || typeof entry.name !== 'string' || entry.name.length === 0) {
      throw new TensorError(`output #${index}: must be an object with a non-empty name`);
    }
    const label = tensorLabel('output', entry.name);
    if (seen.has(entry.name)) throw new TensorError(`${label}: requested more than once`);
    seen.add(entry.name);
    const parameters = checkParameters(label, entry.parameters);
    const binary = parameters?.[BINARY_DATA];
    if (binary !== undefined && typeof binary !== 'boolean') {
      throw new TensorError(
        `${label}: ${BINARY_DATA} must be a boolean, got ${describeValue(binary)}`,
      );
    }
    const output: RequestedOutput = { name: entry.name };
    if (parameters) output.parameters = parameters;
    return output;
  });
}

function parseRequest(
  json: unknown,
  binary: Buffer | undefined,
  options: ParseInferRequestOptions,
): ParsedInferRequest {
  const limits = resolveLimits(options.limits);
  if (!isObject(json)) {
    throw new TensorError(`the request must be a JSON object, got ${describeValue(json)}`);
  }
  const request: ParsedInferRequest = { inputs: [] };
  if (json.id !== undefined) {
    if (typeof json.id !== 'string') {
      throw new TensorError(`id must be a string, got ${describeValue(json.id)}`);
    }
    request.id = json.id;
  }
  const parameters = checkParameters('the request', json.parameters);
  if (parameters) {
    const binaryOutput = parameters[BINARY_DATA_OUTPUT];
    if (binaryOutput !== undefined && typeof binaryOutput !== 'boolean') {
      throw new TensorError(
        `parameters.${BINARY_DATA_OUTPUT} must be a boolean, got ${describeValue(binaryOutput)}`,
      );
    }
    request.parameters = parameters;
  }

  const { inputs } = json;
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new TensorError(`inputs must be a non-empty array, got ${describeValue(inputs)}`);
  }
  if (inputs.length > limits.maxInputs) {
    throw new TensorError(
      `the request has ${inputs.length} inputs, over the limit of ${limits.maxInputs}`,
      413,
    );
  }
  if (binary !== undefined && binary.length > limits.maxTotalBytes) {
    throw new TensorError(
      `the binary data has ${binary.length} bytes, over the limit of ${limits.maxTotalBytes}`,
      413,
    );
  }
  const entries = inputs.map((input, i) =>
    readTensorEntry('input', i, input, limits.maxElementsPerTensor),
  );
  let ordered = entries;
  if (options.model) {
    // Names, datatypes and shapes are checked before any data is read.
    ordered = validateInputs(entries, options.model.inputs);
  } else {
    const seen = new Set<string>();
    for (const entry of entries) {
      if (seen.has(entry.name)) throw new TensorError(`${entry.label}: given more than once`);
      seen.add(entry.name);
    }
  }

  const outputs = readOutputs(json.outputs);
  if (outputs) request.outputs = outputs;
  if (options.model?.outputs) validateRequestedOutputs(outputs, options.model.outputs);

  const slices = sliceBinaryPart(entries, binary);
  let total = 0;
  const decoded = new Map<TensorEntry, RawTensor>();
  entries.forEach((entry, i) => {
    // Fixed-size tensors are counted before their data is allocated.
    const expected = slices[i]?.length ?? entry.rawSize;
    if (expected !== undefined && total + expected > limits.maxTotalBytes) {
      throw tooLarge(entry.label, total + expected, limits.maxTotalBytes);
    }
    const tensor = decodeTensorEntry(entry, slices[i]);
    total += tensor.data.length;
    if (total > limits.maxTotalBytes) throw tooLarge(entry.label, total, limits.maxTotalBytes);
    decoded.set(entry, tensor);
  });
  request.inputs = ordered.map((entry) => decoded.get(entry) as RawTensor);
  return request;
}

function tooLarge(label: string, total: number, max: number): TensorError {
  return new TensorError(
    `${label}: the inputs reach ${total} bytes, over the limit of ${max}`,
    413,
  );
}

/** Decodes an already parsed JSON request (no binary part). */
export function parseInferRequest(
  json: unknown,
  options: ParseInferRequestOptions = {},
): ParsedInferRequest {
  return parseRequest(json, undefined, options);
}

/**
 * Decodes a request body: all JSON when `headerLength` (the `Inference-Header-Content-Length`
 * header) is absent; otherwise its first `headerLength` bytes are the JSON header and the rest
 * the binary data of the inputs that declare `parameters.binary_data_size`, in input order.
 * Binary slices are views of `body`, not copies.
 */
export function parseInferRequestBody(
  body: Buffer | string,
  headerLength?: number | string | null,
  options: ParseInferRequestOptions = {},
): ParsedInferRequest {
  const { json, binary } = splitBody(body, headerLength, 'request');
  return parseRequest(json, binary, options);
}

/**
 * Whether an output goes back as binary data: its own `parameters.binary_data` when given,
 * else the request's `parameters.binary_data_output`, else not.
 */
export function wantsBinaryOutput(
  request: Pick<ParsedInferRequest, 'outputs' | 'parameters'> | undefined,
  name: string,
): boolean {
  const own = request?.outputs?.find((o) => o.name === name)?.parameters?.[BINARY_DATA];
  if (typeof own === 'boolean') return own;
  return request?.parameters?.[BINARY_DATA_OUTPUT] === true;
}
