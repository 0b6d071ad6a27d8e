/**
 * Why a model-loader request failed. The loader chooses the code; the client adds `TIMEOUT`
 * (no answer in time) and uses `INTERNAL` for anything it cannot classify.
 *
 * - `INVALID_NAME`: the model name or version cannot be a path or key (`../etc`, empty, too long).
 * - `NOT_FOUND`: the registry has no such model or version, or it is deleted or not ready.
 * - `CHECKSUM`: a source delivered bytes that do not match the manifest (or a manifest that does
 *   not match the registry's digest).
 * - `SOURCE_UNAVAILABLE`: neither S3 nor the version's HTTP origin delivered the files.
 * - `DISK_FULL`: the disk cache cap (or the disk) has no room and nothing can be evicted.
 * - `LOCK_TIMEOUT`: another loader held the version's download lock for too long.
 * - `TIMEOUT`: the caller's timeout ran out before the loader answered.
 * - `INTERNAL`: anything else: a bug, an unexpected I/O error, or Redis unreachable when the
 *   request was sent (then `retryable` is true).
 */
export const LOADER_ERROR_CODES = [
  'INVALID_NAME',
  'NOT_FOUND',
  'CHECKSUM',
  'SOURCE_UNAVAILABLE',
  'DISK_FULL',
  'LOCK_TIMEOUT',
  'TIMEOUT',
  'INTERNAL',
] as const;

export type LoaderErrorCode = (typeof LOADER_ERROR_CODES)[number];

export function isLoaderErrorCode(value: unknown): value is LoaderErrorCode {
  return typeof value === 'string' && (LOADER_ERROR_CODES as readonly string[]).includes(value);
}

/** A failed model-loader request, as the loader reported it (code and message intact). */
export class ModelLoaderError extends Error {
  /** Whether asking again later may succeed (the request itself was fine). */
  readonly retryable: boolean;

  constructor(
    readonly code: LoaderErrorCode,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModelLoaderError';
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
  }
}

const RETRYABLE: ReadonlySet<LoaderErrorCode> = new Set([
  'SOURCE_UNAVAILABLE',
  'LOCK_TIMEOUT',
  'TIMEOUT',
  'DISK_FULL',
]);

// BullMQ keeps only a string (`failedReason`, the thrown error's message) for a failed job, so
// the code travels inside it: `[strata-loader:CODE] message`.
const FAILURE_RE = /^\[strata-loader:([A-Z_]+)\] ([\s\S]*)$/;

/** The failure text a loader throws so the code survives BullMQ's `failedReason`. */
export function encodeLoaderFailure(code: LoaderErrorCode, message: string): string {
  return `[strata-loader:${code}] ${message}`;
}

/**
 * The error a `failedReason` stands for. Text that was not encoded by the loader (a BullMQ
 * error such as a stalled job) becomes `INTERNAL` with the text as message.
 */
export function decodeLoaderFailure(failedReason: string): ModelLoaderError {
  const m = FAILURE_RE.exec(failedReason);
  if (m && isLoaderErrorCode(m[1])) return new ModelLoaderError(m[1], m[2]);
  return new ModelLoaderError('INTERNAL', failedReason);
}
