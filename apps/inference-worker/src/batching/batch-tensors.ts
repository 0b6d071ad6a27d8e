import {
  concatBatch,
  elementCount,
  elementSize,
  splitBatch,
  TensorError,
  type RawTensor,
} from '@strata/tensors';

// @strata/tensors joins and cuts along the first dimension. A batch axis further in (Silero's
// state is [2, N, 128]) is the same operation repeated for every index of the leading axes:
// the tensor is a run of `outer` blocks, each a [n, ...rest] tensor of its own.

function outerBlocks(tensor: RawTensor, axis: number): RawTensor[] {
  const size = elementSize(tensor.datatype);
  if (size === undefined) {
    throw new TensorError(
      `tensor "${tensor.name}": BYTES tensors batch along their first axis only`,
    );
  }
  const outer = elementCount(tensor.shape.slice(0, axis));
  const blockShape = tensor.shape.slice(axis);
  const blockBytes = elementCount(blockShape) * size;
  const blocks: RawTensor[] = [];
  for (let o = 0; o < outer; o++) {
    blocks.push({
      name: tensor.name,
      datatype: tensor.datatype,
      shape: blockShape,
      data: tensor.data.subarray(o * blockBytes, (o + 1) * blockBytes),
    });
  }
  return blocks;
}

/** Tensors joined along `axis`: equal datatypes and equal sizes on every other axis. */
export function concatAlong(tensors: readonly RawTensor[], axis: number): RawTensor {
  if (axis === 0) return concatBatch(tensors);
  const [first] = tensors;
  for (const t of tensors) {
    if (t.shape.length <= axis || t.shape.slice(0, axis).some((d, i) => d !== first.shape[i])) {
      throw new TensorError(`tensor "${t.name}": shapes differ before batch axis ${axis}`);
    }
  }
  const perTensor = tensors.map((t) => outerBlocks(t, axis));
  const joined = perTensor[0].map((_, o) => concatBatch(perTensor.map((blocks) => blocks[o])));
  return {
    name: first.name,
    datatype: first.datatype,
    shape: [...first.shape.slice(0, axis), ...joined[0].shape],
    data: Buffer.concat(joined.map((j) => j.data)),
  };
}

/** A tensor cut along `axis` into parts of `sizes` (which must add up to its size there). */
export function splitAlong(tensor: RawTensor, sizes: readonly number[], axis: number): RawTensor[] {
  if (axis === 0) return splitBatch(tensor, sizes);
  if (tensor.shape.length <= axis) {
    throw new TensorError(
      `tensor "${tensor.name}": no axis ${axis} in a rank ${tensor.shape.length} tensor`,
    );
  }
  const cut = outerBlocks(tensor, axis).map((block) => splitBatch(block, sizes));
  const lead = tensor.shape.slice(0, axis);
  return sizes.map((_, part) => ({
    name: tensor.name,
    datatype: tensor.datatype,
    shape: [...lead, ...cut[0][part].shape],
    data: Buffer.concat(cut.map((blocks) => blocks[part].data)),
  }));
}
