import { JobError, type InferErrorCode, type ModelVersionRef } from '@strata/cache-keys';
import {
  ModelLoaderError,
  type LoaderErrorCode,
  type ModelLoaderClient,
} from '@strata/loader-client';
import type { ModelSource } from './model-source';

const CODES: Readonly<Record<LoaderErrorCode, InferErrorCode>> = {
  INVALID_NAME: 'INVALID_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CHECKSUM: 'UNAVAILABLE',
  SOURCE_UNAVAILABLE: 'UNAVAILABLE',
  DISK_FULL: 'UNAVAILABLE',
  LOCK_TIMEOUT: 'UNAVAILABLE',
  // The loader did not answer within MODEL_LOAD_TIMEOUT: the request may be fine, the loader
  // busy or down. The job's own deadline is reported as TIMEOUT by the worker.
  TIMEOUT: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
};

/** A loader failure as the worker reports it. */
export function fromLoaderError(ref: ModelVersionRef, err: unknown): JobError {
  const what = `model "${ref.model}" version ${ref.version}`;
  if (err instanceof ModelLoaderError) {
    const code = err.retryable && err.code === 'INTERNAL' ? 'UNAVAILABLE' : CODES[err.code];
    return new JobError(code, `${what}: ${err.message}`, { cause: err });
  }
  return new JobError('INTERNAL', `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

/** The model-loader of the worker's cache domain, through @strata/loader-client. */
export class LoaderModelSource implements ModelSource {
  /** `workerId`: the lease holder the session pool acquires leases as, before it ensures. */
  constructor(
    private readonly client: ModelLoaderClient,
    private readonly workerId: string,
  ) {}

  async ensure(
    ref: ModelVersionRef,
    timeoutMs: number,
  ): Promise<{ path: string; cached: boolean; via: 'index' | 'loader' }> {
    try {
      return await this.client.ensure(ref, { timeoutMs, leaseHolder: this.workerId });
    } catch (err) {
      throw fromLoaderError(ref, err);
    }
  }

  async release(ref: ModelVersionRef): Promise<void> {
    await this.client.evict(ref, { timeoutMs: 30_000 });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
