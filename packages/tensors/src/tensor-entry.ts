import { isDatatype, elementSize, type TensorDatatype } from './datatypes';
import { encodeJsonValues, flattenJsonData } from './json-decode';
import { BASE64_CONTENT_TYPE, CONTENT_TYPE_PARAMETER } from './json-encode';
import { checkBoolBytes, checkRawSize } from './raw-tensor';
import { checkShape } from './shape';
import { describeValue, tensorLabel, TensorError } from './tensor-error';
import type { RawTensor, TensorParameters } from './types';

export const BINARY_DATA_SIZE = 'binary_data_size';
export const BINARY_DATA = 'binary_data';
export const BINARY_DATA_OUTPUT = 'binary_data_output';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The checked header of a wire tensor (request input or response output), data not read. */
export interface TensorEntry {
  label: string;
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  count: number;
  parameters?: TensorParameters;
  /** `parameters.binary_data_size`, when its data is in the binary part. */
  binarySize?: number;
  data: unknown;
  /** Bytes the raw data will take, when known before decoding (fixed-size types). */
  rawSize?: number;
}

export function checkParameters(label: string, value: unknown): TensorParameters | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    throw new TensorError(`${label}: parameters must be an object, got ${describeValue(value)}`);
  }
  return value;
}

/** Reads a tensor's header fields: name, datatype, shape (within the element limit), parameters. */
export function readTensorEntry(
  kind: string,
  index: number,
  value: unknown,
  maxElements: number,
): TensorEntry {
  if (!isObject(value)) {
    throw new TensorError(`${kind} #${index}: must be an object, got ${describeValue(value)}`);
  }
  const { name } = value;
  if (typeof name !== 'string' || name.length === 0) {
    throw new TensorError(`${kind} #${index}: name must be a non-empty string`);
  }
  const label = tensorLabel(kind, name);
  const { datatype } = value;
  if (!isDatatype(datatype)) {
    throw new TensorError(`${label}: unknown datatype ${describeValue(datatype)}`);
  }
  const count = checkShape(label, value.shape, maxElements);
  const parameters = checkParameters(label, value.parameters);
  const entry: TensorEntry = {
    label,
    name,
    datatype,
    shape: [...(value.shape as number[])],
    count,
    parameters,
    data: value.data,
  };
  const size = elementSize(datatype);
  if (size !== undefined) entry.rawSize = count * size;
  const binarySize = parameters?.[BINARY_DATA_SIZE];
  if (binarySize !== undefined) {
    if (typeof binarySize !== 'number' || !Number.isSafeInteger(binarySize) || binarySize < 0) {
      throw new TensorError(
        `${label}: ${BINARY_DATA_SIZE} must be a non-negative integer, got ${describeValue(binarySize)}`,
      );
    }
    if (value.data !== undefined) {
      throw new TensorError(`${label}: has both data and ${BINARY_DATA_SIZE}; give one`);
    }
    entry.binarySize = binarySize;
  } else if (value.data === undefined) {
    throw new TensorError(`${label}: no data (give data, or ${BINARY_DATA_SIZE} with binary data)`);
  }
  return entry;
}

function base64Bytes(entry: TensorEntry): boolean {
  const contentType = entry.parameters?.[CONTENT_TYPE_PARAMETER];
  return entry.datatype === 'BYTES' && contentType === BASE64_CONTENT_TYPE;
}

/** Parameters to keep on the raw tensor: all but those describing how the data travelled. */
function keptParameters(entry: TensorEntry): TensorParameters | undefined {
  if (!entry.parameters) return undefined;
  const kept = { ...entry.parameters };
  delete kept[BINARY_DATA_SIZE];
  if (base64Bytes(entry)) delete kept[CONTENT_TYPE_PARAMETER];
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** The raw tensor of an entry, from its JSON data or its slice of the binary part. */
export function decodeTensorEntry(entry: TensorEntry, binary?: Buffer): RawTensor {
  let data: Buffer;
  if (binary !== undefined) {
    if (entry.rawSize !== undefined && binary.length !== entry.rawSize) {
      throw new TensorError(
        `${entry.label}: ${BINARY_DATA_SIZE} ${binary.length} does not match shape [${entry.shape.join(',')}] of ${entry.datatype} (${entry.rawSize} bytes)`,
      );
    }
    checkRawSize(entry.label, entry.datatype, entry.shape, binary);
    if (entry.datatype === 'BOOL') checkBoolBytes(entry.label, binary);
    data = binary;
  } else {
    const values = flattenJsonData(entry.label, entry.shape, entry.count, entry.data);
    data = encodeJsonValues(entry.label, entry.datatype, values, base64Bytes(entry));
  }
  const tensor: RawTensor = {
    name: entry.name,
    datatype: entry.datatype,
    shape: entry.shape,
    data,
  };
  const parameters = keptParameters(entry);
  if (parameters) tensor.parameters = parameters;
  return tensor;
}

/**
 * Where the binary part of each entry lies: the slices of `binary` in entry order, undefined
 * for JSON entries. The declared sizes must add up to exactly the binary part.
 */
export function sliceBinaryPart(
  entries: readonly TensorEntry[],
  binary: Buffer | undefined,
): (Buffer | undefined)[] {
  let declared = 0;
  for (const entry of entries) {
    if (entry.binarySize === undefined) continue;
    if (binary === undefined) {
      throw new TensorError(
        `${entry.label}: ${BINARY_DATA_SIZE} given but the body has no binary part (no Inference-Header-Content-Length)`,
      );
    }
    declared += entry.binarySize;
  }
  if (binary !== undefined && declared !== binary.length) {
    throw new TensorError(
      `${BINARY_DATA_SIZE} of the tensors add up to ${declared} bytes but the body has ${binary.length} bytes after the header`,
    );
  }
  let offset = 0;
  return entries.map((entry) => {
    if (entry.binarySize === undefined || binary === undefined) return undefined;
    const slice = binary.subarray(offset, offset + entry.binarySize);
    offset += entry.binarySize;
    return slice;
  });
}

/** Parses the JSON part of a body (the whole body, or its header), with a clear error. */
export function parseJsonPart(text: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (error) {
    throw new TensorError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The `Inference-Header-Content-Length` value: a decimal integer within the body. Absent
 * (undefined, null or empty) means the whole body is JSON.
 */
export function parseHeaderLength(
  value: number | string | null | undefined,
  bodyLength: number,
): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const length = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new TensorError(
      `Inference-Header-Content-Length must be a non-negative integer, got ${describeValue(value)}`,
    );
  }
  if (length > bodyLength) {
    throw new TensorError(
      `Inference-Header-Content-Length ${length} is larger than the body (${bodyLength} bytes)`,
    );
  }
  return length;
}

/** Splits a body into its JSON header and its binary part (undefined without a header length). */
export function splitBody(
  body: Buffer | string,
  headerLength: number | string | null | undefined,
  what = 'request',
): { json: unknown; binary?: Buffer } {
  const buffer = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const length = parseHeaderLength(headerLength, buffer.length);
  if (length === undefined) return { json: parseJsonPart(buffer, `${what} body`) };
  return {
    json: parseJsonPart(buffer.subarray(0, length), `the JSON header of the ${what}`),
    binary: buffer.subarray(length),
  };
}
