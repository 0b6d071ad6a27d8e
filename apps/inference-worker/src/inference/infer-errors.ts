import { JobError, type InferErrorCode } from '@strata/cache-keys';
import { isTensorError } from '@strata/tensors';

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Any failure as a JobError: JobErrors keep their code, tensor errors are bad input. */
export function toJobError(err: unknown, fallback: InferErrorCode = 'INTERNAL'): JobError {
  if (err instanceof JobError) return err;
  if (isTensorError(err)) return new JobError('INVALID_INPUT', err.message, { cause: err });
  return new JobError(fallback, messageOf(err), { cause: err });
}
