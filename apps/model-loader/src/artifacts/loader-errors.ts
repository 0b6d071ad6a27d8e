import { InvalidNameError, ManifestError, PathEscapeError } from '@strata/artifact-layout';
import { KeySegmentError } from '@strata/cache-keys';
import { ModelLoaderError, type LoaderErrorCode } from '@strata/loader-client';
import { NotFoundError } from '@strata/model-registry';

export type SourceKind = 's3' | 'origin';

/** Base of the failures the loader raises on purpose; each knows its client-facing code. */
export abstract class LoaderFailure extends Error {
  abstract readonly code: LoaderErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A source delivered bytes (or a manifest) that do not match what the registry promises. */
export class ChecksumError extends LoaderFailure {
  readonly code = 'CHECKSUM' as const;

  constructor(
    readonly source: SourceKind,
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file} from ${source}: ${detail}`);
  }
}

/** A source could not deliver a file (unreachable, 5xx, no such key, HTTP error, stalled). */
export class SourceError extends LoaderFailure {
  readonly code = 'SOURCE_UNAVAILABLE' as const;

  constructor(
    readonly source: SourceKind,
    readonly file: string,
    cause: unknown,
  ) {
    super(`${file} from ${source}: ${messageOf(cause)}`, { cause });
  }
}

/** Every source was tried and failed; the message names the version and each attempt. */
export class FetchFailedError extends LoaderFailure {
  readonly code: LoaderErrorCode;

  constructor(
    readonly model: string,
    readonly version: number,
    readonly attempts: readonly (ChecksumError | SourceError)[],
    hasOrigin: boolean,
  ) {
    const parts = attempts.map((a) => a.message);
    if (!hasOrigin) parts.push('the version has no HTTP origin to fall back to');
    super(`cannot fetch ${model}/${version}: ${parts.join('; ')}`);
    // Bytes that arrived but did not verify say more than a source that was down.
    this.code = attempts.some((a) => a instanceof ChecksumError)
      ? 'CHECKSUM'
      : 'SOURCE_UNAVAILABLE';
  }
}

export class DiskFullError extends LoaderFailure {
  readonly code = 'DISK_FULL' as const;
}

export class VersionLockTimeoutError extends LoaderFailure {
  readonly code = 'LOCK_TIMEOUT' as const;

  constructor(model: string, version: number, timeoutMs: number) {
    super(
      `timed out after ${timeoutMs} ms waiting for the download lock of ${model}/${version} (another loader is still downloading it)`,
    );
  }
}

/** The client-facing error for anything a job handler throws. */
export function toModelLoaderError(err: unknown): ModelLoaderError {
  if (err instanceof ModelLoaderError) return err;
  if (err instanceof LoaderFailure) return new ModelLoaderError(err.code, err.message);
  if (
    err instanceof InvalidNameError ||
    err instanceof KeySegmentError ||
    err instanceof PathEscapeError
  )
    return new ModelLoaderError('INVALID_NAME', err.message);
  if (err instanceof NotFoundError) return new ModelLoaderError('NOT_FOUND', err.message);
  if (err instanceof ManifestError) return new ModelLoaderError('CHECKSUM', err.message);
  return new ModelLoaderError('INTERNAL', messageOf(err));
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

/** The file system is out of space (or quota). */
export function isNoSpace(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}
