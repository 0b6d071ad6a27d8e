import { describeValue, TensorError } from './tensor-error';

/** `[1,3,224,224]`: how messages print a shape. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Product of the dimensions (1 for a scalar). The shape is assumed valid. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/**
 * Checks that `shape` is an array of non-negative integers whose product stays within
 * `maxElements`, and returns that product. The product is checked as it grows, so a shape made
 * to overflow cannot slip past the limit.
 */
export function checkShape(label: string, shape: unknown, maxElements: number): number {
  if (!Array.isArray(shape)) {
    throw new TensorError(
      `${label}: shape must be an array of integers, got ${describeValue(shape)}`,
    );
  }
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new TensorError(
        `${label}: shape must be an array of non-negative integers, got ${describeValue(dim)} in it`,
      );
    }
  }
  const dims = shape as number[];
  if (dims.includes(0)) return 0;
  let count = 1;
  for (const dim of dims) {
    count *= dim;
    // Checked as it grows: a product past the limit (or past 2^53, where it loses precision)
    // is too large whatever follows, since no dimension is 0.
    if (count > maxElements) {
      throw new TensorError(
        `${label}: shape ${formatShape(dims)} has more than ${maxElements} elements (the limit)`,
        413,
      );
    }
  }
  return count;
}
