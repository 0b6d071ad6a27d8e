import { isUtf8 } from 'node:buffer';
import { decodeBytesElements } from './bytes-elements';
import type { TensorDatatype } from './datatypes';
import { fp16ToNumber } from './fp16';
import { checkRawSize } from './raw-tensor';
import { tensorLabel } from './tensor-error';
import { toTypedArray } from './typed-arrays';
import type { JsonResponseTensor, JsonScalar, RawTensor } from './types';

/** The tensor parameter marking BYTES data sent as base64 (MLServer's convention). */
export const CONTENT_TYPE_PARAMETER = 'content_type';
export const BASE64_CONTENT_TYPE = 'base64';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function floatJson(value: number): number | string {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
}

export interface JsonData {
  data: JsonScalar[];
  /** BYTES data was not all valid UTF-8 and is base64, element by element. */
  base64: boolean;
}

/**
 * Flat JSON values of raw bytes. 64-bit integers are JSON numbers within ±(2^53-1) and decimal
 * strings beyond, element by element; FP16 is decoded to numbers; FP32 values are the exact
 * value of the float (0.1f → 0.10000000149011612), as Triton and KServe print them; NaN and
 * infinities are the strings "NaN", "Infinity", "-Infinity"; BYTES are UTF-8 strings when every
 * element is valid UTF-8, else every element is base64 and `base64` is true.
 */
export function decodeToJsonValues(
  label: string,
  datatype: TensorDatatype,
  shape: readonly number[],
  data: Buffer,
): JsonData {
  checkRawSize(label, datatype, shape, data);
  switch (datatype) {
    case 'BYTES': {
      const elements = decodeBytesElements(data, shape, label);
      if (elements.every((e) => isUtf8(e))) {
        return { data: elements.map((e) => e.toString('utf8')), base64: false };
      }
      return { data: elements.map((e) => e.toString('base64')), base64: true };
    }
    case 'BOOL':
      return { data: Array.from(data, (b) => b !== 0), base64: false };
    case 'UINT64':
    case 'INT64':
      return {
        data: Array.from(toTypedArray(datatype, data), (v: bigint) =>
          v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString(),
        ),
        base64: false,
      };
    case 'FP16':
      return {
        data: Array.from(toTypedArray(datatype, data), (bits) => floatJson(fp16ToNumber(bits))),
        base64: false,
      };
    case 'FP32':
    case 'FP64':
      return { data: Array.from(toTypedArray(datatype, data), floatJson), base64: false };
    default:
      return { data: Array.from(toTypedArray(datatype, data)), base64: false };
  }
}

/** A raw tensor as a JSON response tensor (flat data; see decodeToJsonValues). */
export function toJsonTensor(tensor: RawTensor, kind = 'output'): JsonResponseTensor {
  const label = tensorLabel(kind, tensor.name);
  const { data, base64 } = decodeToJsonValues(label, tensor.datatype, tensor.shape, tensor.data);
  const out: JsonResponseTensor = {
    name: tensor.name,
    datatype: tensor.datatype,
    shape: [...tensor.shape],
    data,
  };
  const parameters = { ...tensor.parameters };
  delete parameters[CONTENT_TYPE_PARAMETER];
  if (base64) parameters[CONTENT_TYPE_PARAMETER] = BASE64_CONTENT_TYPE;
  if (Object.keys(parameters).length > 0) out.parameters = parameters;
  return out;
}
