import { type TensorDatatype } from './datatypes';
import { numberToFp16 } from './fp16';
import { formatShape } from './shape';
import { describeValue, TensorError } from './tensor-error';

/**
 * The flat elements of JSON tensor data. Flat data must have exactly `count` elements; nested
 * data (first element an array) must match the shape at every level, no more and no less.
 */
export function flattenJsonData(
  label: string,
  shape: readonly number[],
  count: number,
  data: unknown,
): unknown[] {
  if (!Array.isArray(data)) {
    throw new TensorError(`${label}: data must be an array, got ${describeValue(data)}`);
  }
  if (data.length === 0 || !Array.isArray(data[0])) {
    if (data.length !== count) {
      throw new TensorError(
        `${label}: shape ${formatShape(shape)} has ${count} elements but data has ${data.length}`,
      );
    }
    return data;
  }
  const out = new Array<unknown>(count);
  let next = 0;
  const mismatch = (detail: string): TensorError =>
    new TensorError(`${label}: nested data does not match shape ${formatShape(shape)}: ${detail}`);
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw mismatch(`${path} is an array, expected a value`);
      out[next++] = node;
      return;
    }
    if (!Array.isArray(node)) {
      throw mismatch(`${path} is ${describeValue(node)}, expected an array`);
    }
    if (node.length !== shape[depth]) {
      throw mismatch(`${path} has ${node.length} elements, expected ${shape[depth]}`);
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${path}[${i}]`);
  };
  walk(data, 0, 'data');
  return out;
}

const INT_RANGES = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
} as const;

const BIGINT_RANGES = {
  UINT64: [0n, 2n ** 64n - 1n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
} as const;

function wrongType(label: string, what: string, value: unknown, index: number): TensorError {
  return new TensorError(
    `${label}: expected ${what}, got ${describeValue(value)} (element ${index})`,
  );
}

function outOfRange(
  label: string,
  datatype: TensorDatatype,
  value: unknown,
  index: number,
): TensorError {
  // Decimal strings are shown bare, like the numbers they stand for.
  const shown =
    typeof value !== 'string'
      ? describeValue(value)
      : value.length > 32
        ? `${value.slice(0, 32)}…`
        : value;
  return new TensorError(
    `${label}: value ${shown} out of range for ${datatype} (element ${index})`,
  );
}

function asBuffer(array: ArrayBufferView): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

function encodeInts(
  label: string,
  datatype: keyof typeof INT_RANGES,
  values: readonly unknown[],
): Buffer {
  const [min, max] = INT_RANGES[datatype];
  const out = {
    UINT8: Uint8Array,
    UINT16: Uint16Array,
    UINT32: Uint32Array,
    INT8: Int8Array,
    INT16: Int16Array,
    INT32: Int32Array,
  }[datatype];
  const array = new out(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw wrongType(label, `an integer for ${datatype}`, v, i);
    }
    if (v < min || v > max) throw outOfRange(label, datatype, v, i);
    array[i] = v;
  }
  return asBuffer(array);
}

const DECIMAL = /^-?\d+$/;

function encodeBigInts(
  label: string,
  datatype: keyof typeof BIGINT_RANGES,
  values: readonly unknown[],
): Buffer {
  const [min, max] = BIGINT_RANGES[datatype];
  const array =
    datatype === 'INT64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let big: bigint;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) {
        throw wrongType(label, `an integer or a decimal string for ${datatype}`, v, i);
      }
      // Past 2^53 a JSON number has already lost its exact value in the parser.
      if (!Number.isSafeInteger(v)) {
        throw new TensorError(
          `${label}: value ${v} is beyond ±(2^53-1) and cannot be exact as a JSON number; send it as a decimal string (element ${i})`,
        );
      }
      big = BigInt(v);
    } else if (typeof v === 'string' && DECIMAL.test(v)) {
      if (v.length > 24) throw outOfRange(label, datatype, v, i);
      big = BigInt(v);
    } else {
      throw wrongType(label, `an integer or a decimal string for ${datatype}`, v, i);
    }
    if (big < min || big > max) throw outOfRange(label, datatype, v, i);
    array[i] = big;
  }
  return asBuffer(array);
}

/** JSON has no NaN or infinities: they travel as these strings, both ways. */
const NON_FINITE: Readonly<Record<string, number>> = {
  NaN: NaN,
  Infinity: Infinity,
  '-Infinity': -Infinity,
};

function floatValue(label: string, datatype: TensorDatatype, v: unknown, index: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && Object.hasOwn(NON_FINITE, v)) return NON_FINITE[v];
  throw wrongType(label, `a number for ${datatype}`, v, index);
}

function encodeFloats(
  label: string,
  datatype: 'FP16' | 'FP32' | 'FP64',
  values: readonly unknown[],
): Buffer {
  const n = values.length;
  if (datatype === 'FP64') {
    const array = new Float64Array(n);
    for (let i = 0; i < n; i++) array[i] = floatValue(label, datatype, values[i], i);
    return asBuffer(array);
  }
  if (datatype === 'FP32') {
    const array = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = floatValue(label, datatype, values[i], i);
      const f = Math.fround(v);
      if (!Number.isFinite(f) && Number.isFinite(v)) throw outOfRange(label, datatype, v, i);
      array[i] = f;
    }
    return asBuffer(array);
  }
  const array = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const v = floatValue(label, datatype, values[i], i);
    const bits = numberToFp16(v);
    if ((bits & 0x7fff) === 0x7c00 && Number.isFinite(v)) throw outOfRange(label, datatype, v, i);
    array[i] = bits;
  }
  return asBuffer(array);
}

/** Strict base64: what Buffer.from would silently skip or misread is refused. */
function decodeBase64(label: string, value: string, index: number): Buffer {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) {
    throw new TensorError(`${label}: element ${index} is not valid base64`);
  }
  return bytes;
}

function encodeBytes(label: string, values: readonly unknown[], base64: boolean): Buffer {
  const parts: Buffer[] = new Array<Buffer>(values.length);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'string') throw wrongType(label, 'a string for BYTES', v, i);
    const part = base64 ? decodeBase64(label, v, i) : Buffer.from(v, 'utf8');
    parts[i] = part;
    total += 4 + part.length;
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const part of parts) {
    out.writeUInt32LE(part.length, offset);
    part.copy(out, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

/**
 * Raw little-endian bytes of flat JSON values, each checked against the datatype: booleans for
 * BOOL; integers within range for the integer types (64-bit ones also as decimal strings, and
 * as JSON numbers only within ±(2^53-1)); numbers or "NaN"/"Infinity"/"-Infinity" for FP types,
 * a finite number that overflows the type being out of range; strings for BYTES, read as
 * UTF-8, or as base64 when `bytesAsBase64`.
 */
export function encodeJsonValues(
  label: string,
  datatype: TensorDatatype,
  values: readonly unknown[],
  bytesAsBase64 = false,
): Buffer {
  switch (datatype) {
    case 'BOOL': {
      const array = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') throw wrongType(label, 'a boolean for BOOL', v, i);
        array[i] = v ? 1 : 0;
      }
      return asBuffer(array);
    }
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
    case 'INT8':
    case 'INT16':
    case 'INT32':
      return encodeInts(label, datatype, values);
    case 'UINT64':
    case 'INT64':
      return encodeBigInts(label, datatype, values);
    case 'FP16':
    case 'FP32':
    case 'FP64':
      return encodeFloats(label, datatype, values);
    case 'BYTES':
      return encodeBytes(label, values, bytesAsBase64);
  }
}
