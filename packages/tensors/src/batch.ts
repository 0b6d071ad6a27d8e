import { bytesElementOffsets } from './bytes-elements';
import { elementSize } from './datatypes';
import { checkRawSize } from './raw-tensor';
import { elementCount, formatShape } from './shape';
import { tensorLabel, TensorError } from './tensor-error';
import type { RawTensor } from './types';

/**
 * Tensors joined along their first (batch) dimension: same datatype, rank at least 1, equal
 * trailing dimensions. The name is the first tensor's. Raw bytes of row-major tensors simply
 * follow one another, BYTES ones too (their elements carry their own lengths).
 */
export function concatBatch(tensors: readonly RawTensor[]): RawTensor {
  if (tensors.length === 0) throw new TensorError('concatBatch: no tensors');
  const [first] = tensors;
  const label = tensorLabel('tensor', first.name);
  if (first.shape.length === 0) throw new TensorError(`${label}: a scalar has no batch dimension`);
  const rest = first.shape.slice(1);
  let batch = 0;
  for (const t of tensors) {
    const own = tensorLabel('tensor', t.name);
    if (t.datatype !== first.datatype) {
      throw new TensorError(`${own}: datatype ${t.datatype} cannot join ${first.datatype}`);
    }
    if (
      t.shape.length !== first.shape.length ||
      t.shape.some((d, i) => i > 0 && d !== first.shape[i])
    ) {
      throw new TensorError(
        `${own}: shape ${formatShape(t.shape)} cannot join ${formatShape(first.shape)} along the first dimension`,
      );
    }
    checkRawSize(own, t.datatype, t.shape, t.data);
    batch += t.shape[0];
  }
  return {
    name: first.name,
    datatype: first.datatype,
    shape: [batch, ...rest],
    data: tensors.length === 1 ? first.data : Buffer.concat(tensors.map((t) => t.data)),
  };
}

/**
 * A tensor cut along its first dimension into parts of `sizes` rows (which must add up to it).
 * The parts' data are views of the tensor's, not copies.
 */
export function splitBatch(tensor: RawTensor, sizes: readonly number[]): RawTensor[] {
  const label = tensorLabel('tensor', tensor.name);
  if (tensor.shape.length === 0) throw new TensorError(`${label}: a scalar has no batch dimension`);
  let sum = 0;
  for (const size of sizes) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TensorError(`${label}: batch sizes must be non-negative integers, got ${size}`);
    }
    sum += size;
  }
  if (sum !== tensor.shape[0]) {
    throw new TensorError(
      `${label}: batch sizes add up to ${sum} but the first dimension of ${formatShape(tensor.shape)} is ${tensor.shape[0]}`,
    );
  }
  checkRawSize(label, tensor.datatype, tensor.shape, tensor.data);
  const rest = tensor.shape.slice(1);
  const rowElements = elementCount(rest);
  const size = elementSize(tensor.datatype);
  const offsets =
    size === undefined ? bytesElementOffsets(label, tensor.data, tensor.shape) : undefined;
  let row = 0;
  return sizes.map((rows) => {
    const start = row * rowElements;
    const end = (row + rows) * rowElements;
    row += rows;
    const data =
      offsets === undefined
        ? tensor.data.subarray(start * (size as number), end * (size as number))
        : tensor.data.subarray(offsets[start], offsets[end]);
    return { name: tensor.name, datatype: tensor.datatype, shape: [rows, ...rest], data };
  });
}
