import type { TensorDatatype } from '@strata/cache-keys';
import type { RawTensor } from '@strata/tensors';

/** Injection token: the {@link SessionFactory} (ONNX Runtime in production). */
export const SESSION_FACTORY = Symbol('SESSION_FACTORY');

/** An input or output as the session's metadata describes it. */
export interface TensorInfo {
  readonly name: string;
  /** Undefined when the value is not a tensor or its element type has no OIP datatype. */
  readonly datatype: TensorDatatype | undefined;
  /**
   * Dimensions: a number for a fixed size, a string for a dynamic one (its symbolic name, `''`
   * when the model gives none). Undefined when the model does not say (ONNX Runtime reports an
   * unknown shape as `[]`, like a scalar, so `[]` is read as unknown).
   */
  readonly dims: readonly (number | string)[] | undefined;
}

/** A loaded model, whatever runs it. Tensors cross this boundary as raw little-endian bytes. */
export interface ModelSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Runs the model on `feeds` and returns the `outputs` asked for, by name. */
  run(feeds: readonly RawTensor[], outputs: readonly string[]): Promise<Map<string, RawTensor>>;
  release(): Promise<void>;
}

export interface SessionFactory {
  /** Opens `weights.onnx` at `path` (external data next to it is found by ONNX Runtime). */
  create(path: string): Promise<ModelSession>;
}
