import { bytesElementOffsets } from './bytes-elements';
import { elementSize, type TensorDatatype } from './datatypes';
import { elementCount, formatShape } from './shape';
import { TensorError } from './tensor-error';
import type { RawTensor } from './types';

/**
 * Throws unless `data` is exactly the raw bytes of `shape` elements of `datatype`: element
 * count × element size for fixed-size types, that many whole length-prefixed elements for BYTES.
 */
export function checkRawSize(
  label: string,
  datatype: TensorDatatype,
  shape: readonly number[],
  data: Uint8Array,
): void {
  const size = elementSize(datatype);
  if (size === undefined) {
    bytesElementOffsets(label, data, shape);
    return;
  }
  const expected = elementCount(shape) * size;
  if (data.byteLength !== expected) {
    throw new TensorError(
      `${label}: ${data.byteLength} bytes do not hold shape ${formatShape(shape)} of ${datatype} (${expected} bytes expected)`,
    );
  }
}

/** Throws unless every byte of BOOL data is 0 or 1, so equal tensors have equal bytes. */
export function checkBoolBytes(label: string, data: Uint8Array): void {
  for (let i = 0; i < data.byteLength; i++) {
    if (data[i] > 1) {
      throw new TensorError(`${label}: byte ${data[i]} is not a BOOL (0 or 1) (element ${i})`);
    }
  }
}

/** Total raw bytes of tensors. */
export function totalBytes(tensors: readonly Pick<RawTensor, 'data'>[]): number {
  let total = 0;
  for (const t of tensors) total += t.data.byteLength;
  return total;
}
