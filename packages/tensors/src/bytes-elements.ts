import { elementCount, formatShape } from './shape';
import { TensorError } from './tensor-error';

/**
 * BYTES elements in the protocol's binary encoding: each a 4-byte little-endian length, then
 * its bytes. Strings are written as UTF-8.
 */
export function encodeBytesElements(elements: readonly (Uint8Array | string)[]): Buffer {
  const parts = elements.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : e));
  let total = 0;
  for (const part of parts) total += 4 + part.byteLength;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const part of parts) {
    out.writeUInt32LE(part.byteLength, offset);
    out.set(part, offset + 4);
    offset += 4 + part.byteLength;
  }
  return out;
}

/**
 * Byte offsets of element boundaries of BYTES data: `offsets[i]` is where element i's length
 * prefix starts and `offsets[n]` the end. With `shape`, throws unless the data holds exactly
 * `elementCount(shape)` whole elements; without, reads whole elements to the end.
 */
export function bytesElementOffsets(
  label: string,
  data: Uint8Array,
  shape?: readonly number[],
): number[] {
  const count = shape === undefined ? undefined : elementCount(shape);
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const offsets: number[] = [0];
  let offset = 0;
  while (offset < view.length) {
    const index = offsets.length - 1;
    if (count !== undefined && index >= count) {
      throw new TensorError(
        `${label}: BYTES data holds more than the ${count} elements of shape ${formatShape(shape ?? [])}`,
      );
    }
    if (offset + 4 > view.length) {
      throw new TensorError(`${label}: BYTES element ${index} is cut off in its 4-byte length`);
    }
    const length = view.readUInt32LE(offset);
    offset += 4;
    if (length > view.length - offset) {
      throw new TensorError(
        `${label}: BYTES element ${index} declares ${length} bytes but only ${view.length - offset} remain`,
      );
    }
    offset += length;
    offsets.push(offset);
  }
  if (count !== undefined && offsets.length - 1 !== count) {
    throw new TensorError(
      `${label}: BYTES data holds ${offsets.length - 1} elements but shape ${formatShape(shape ?? [])} has ${count}`,
    );
  }
  return offsets;
}

/**
 * The elements of BYTES data, as Buffers sharing its memory. With `shape`, throws unless the
 * data holds exactly its element count of whole elements; without, reads to the end.
 */
export function decodeBytesElements(
  data: Uint8Array,
  shape?: readonly number[],
  label = 'tensor',
): Buffer[] {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const offsets = bytesElementOffsets(label, view, shape);
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < offsets.length; i++)
    out.push(view.subarray(offsets[i] + 4, offsets[i + 1]));
  return out;
}
