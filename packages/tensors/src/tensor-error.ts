/** 400: the request is wrong; 413: it is larger than a limit allows. */
export type TensorErrorStatus = 400 | 413;

/**
 * The one error this package throws. The message names the tensor and the problem and is meant
 * to be shown to the caller as is (`{"error": message}` with `status`).
 */
export class TensorError extends Error {
  override readonly name = 'TensorError';

  constructor(
    message: string,
    readonly status: TensorErrorStatus = 400,
  ) {
    super(message);
  }
}

export function isTensorError(error: unknown): error is TensorError {
  return error instanceof TensorError;
}

/** `input "x"`, `output "y"`: how messages name a tensor. */
export function tensorLabel(kind: string, name: string): string {
  return `${kind} ${JSON.stringify(name)}`;
}

/** A short rendering of a JSON value for messages; long strings are cut. */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > 32 ? `${value.slice(0, 32)}…` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}
