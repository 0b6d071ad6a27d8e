/**
 * Why an `infer` job failed, carried across BullMQ. BullMQ keeps only a string for a failed job
 * (`failedReason`, the thrown error's message), so the code travels inside it:
 * `[strata-infer:CODE] message` — the same shape the model-loader client uses for its own codes.
 *
 * - `INVALID_INPUT`: the request can never succeed as sent (unknown input name, wrong datatype or
 *   shape, bytes that do not match the shape, ONNX Runtime refused the feeds). Gateway: 400.
 * - `NOT_FOUND`: the model or version does not exist or is not published. Gateway: 404.
 * - `UNAVAILABLE`: the worker could not serve it now (the loader could not fetch the files, the
 *   disk is full, the worker is shutting down); asking again later may work. Gateway: 503.
 * - `TIMEOUT`: the job's deadline passed before it was computed; it was dropped. Gateway: 504.
 * - `INTERNAL`: anything else (a bug). Gateway: 500.
 */
export const INFER_ERROR_CODES = [
  'INVALID_INPUT',
  'NOT_FOUND',
  'UNAVAILABLE',
  'TIMEOUT',
  'INTERNAL',
] as const;

export type InferErrorCode = (typeof INFER_ERROR_CODES)[number];

export function isInferErrorCode(value: unknown): value is InferErrorCode {
  return typeof value === 'string' && (INFER_ERROR_CODES as readonly string[]).includes(value);
}

/** A failed `infer` job, with the code the gateway maps to an HTTP status. */
export class JobError extends Error {
  constructor(
    readonly code: InferErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JobError';
  }

  /** Whether asking again later may succeed (the request itself may be fine). */
  get retryable(): boolean {
    return this.code === 'UNAVAILABLE' || this.code === 'INTERNAL';
  }
}

const FAILURE_RE = /^\[strata-infer:([A-Z_]+)\] ([\s\S]*)$/;

/** The failure text a worker throws so the code survives BullMQ's `failedReason`. */
export function encodeJobFailure(code: InferErrorCode, message: string): string {
  return `[strata-infer:${code}] ${message}`;
}

/**
 * The error a `failedReason` stands for. Text a worker did not encode (a BullMQ error such as
 * "job stalled more than allowable limit") becomes `INTERNAL` with the text as message.
 */
export function decodeJobFailure(failedReason: string): JobError {
  const m = FAILURE_RE.exec(failedReason);
  if (m && isInferErrorCode(m[1])) return new JobError(m[1], m[2]);
  return new JobError('INTERNAL', failedReason);
}
