/** Bounds on what one request may carry. Exceeding any of them is a 413. */
export interface TensorLimits {
  /** Elements of one tensor (product of its shape). */
  maxElementsPerTensor: number;
  /** Raw bytes of all input tensors together (BYTES counted with their length prefixes). */
  maxTotalBytes: number;
  /** Inputs of one request. */
  maxInputs: number;
}

export const DEFAULT_TENSOR_LIMITS: Readonly<TensorLimits> = Object.freeze({
  maxElementsPerTensor: 64 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxInputs: 64,
});

/** No bounds: for reading answers we produced ourselves. */
export const NO_TENSOR_LIMITS: Readonly<TensorLimits> = Object.freeze({
  maxElementsPerTensor: Number.MAX_SAFE_INTEGER,
  maxTotalBytes: Number.MAX_SAFE_INTEGER,
  maxInputs: Number.MAX_SAFE_INTEGER,
});

export function resolveLimits(limits?: Partial<TensorLimits>): TensorLimits {
  return { ...DEFAULT_TENSOR_LIMITS, ...limits };
}
