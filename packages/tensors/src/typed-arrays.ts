import { elementSize, type FixedDatatype } from './datatypes';

/** The typed array that holds each fixed-size datatype's elements (as ONNX Runtime takes them). */
export interface TypedArrayMap {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  /** Raw half-precision bits; see fp16ToNumber / numberToFp16. */
  FP16: Uint16Array;
  FP32: Float32Array;
  FP64: Float64Array;
}

export type TensorTypedArray = TypedArrayMap[FixedDatatype];

interface TypedArrayClass<T> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

export const TYPED_ARRAY_CLASSES: {
  readonly [D in FixedDatatype]: TypedArrayClass<TypedArrayMap[D]>;
} = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/**
 * The elements of raw bytes as the datatype's typed array. A view sharing memory with `data`
 * when it is aligned for the element size, otherwise a copy (Buffers cut from a pool or a
 * binary body often are not). The host is assumed little-endian, as every platform ORT ships
 * CPU binaries for is.
 */
export function toTypedArray<D extends FixedDatatype>(
  datatype: D,
  data: Uint8Array,
): TypedArrayMap[D] {
  const Class = TYPED_ARRAY_CLASSES[datatype] as TypedArrayClass<TypedArrayMap[D]>;
  const size = elementSize(datatype) as number;
  if (data.byteLength % size !== 0) {
    throw new RangeError(`${data.byteLength} bytes are not a whole number of ${datatype} elements`);
  }
  const length = data.byteLength / size;
  if (data.byteOffset % size === 0) return new Class(data.buffer, data.byteOffset, length);
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return new Class(copy.buffer, 0, length);
}

/** The raw bytes of a typed array, as a Buffer sharing its memory. */
export function fromTypedArray(array: ArrayBufferView): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}
