import type { TensorDatatype } from '@strata/cache-keys';

export type { TensorDatatype };

/** Every datatype whose elements have a fixed size (all but BYTES). */
export type FixedDatatype = Exclude<TensorDatatype, 'BYTES'>;

const ELEMENT_SIZES: { readonly [D in FixedDatatype]: number } = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
};

/** The Open Inference Protocol datatypes, in the protocol's order. */
export const DATATYPES: readonly TensorDatatype[] = [
  ...(Object.keys(ELEMENT_SIZES) as FixedDatatype[]),
  'BYTES',
];

const KNOWN = new Set<string>(DATATYPES);

export function isDatatype(value: unknown): value is TensorDatatype {
  return typeof value === 'string' && KNOWN.has(value);
}

export function isFixedDatatype(datatype: TensorDatatype): datatype is FixedDatatype {
  return datatype !== 'BYTES';
}

/** Bytes per element; undefined for BYTES, whose elements are length-prefixed. */
export function elementSize(datatype: TensorDatatype): number | undefined {
  return datatype === 'BYTES' ? undefined : ELEMENT_SIZES[datatype];
}

const ORT_TYPES: { readonly [D in TensorDatatype]: string } = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const FROM_ORT = new Map(Object.entries(ORT_TYPES).map(([d, o]) => [o, d as TensorDatatype]));

/** The onnxruntime-common `Tensor.Type` name of a datatype (`FP32` → `float32`). */
export function ortTypeOf(datatype: TensorDatatype): string {
  return ORT_TYPES[datatype];
}

/** The datatype of an onnxruntime-common `Tensor.Type` name; undefined for types OIP lacks. */
export function datatypeFromOrtType(type: string): TensorDatatype | undefined {
  return FROM_ORT.get(type);
}
