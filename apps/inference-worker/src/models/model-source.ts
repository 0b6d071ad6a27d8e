import type { ModelVersionRef } from '@strata/cache-keys';

/** Injection token: the {@link ModelSource} (the model-loader in production). */
export const MODEL_SOURCE = Symbol('MODEL_SOURCE');

/**
 * Where the session pool gets the files of a version. Failures are JobErrors with the code the
 * gateway maps (`NOT_FOUND`, `UNAVAILABLE`, `TIMEOUT`, ...).
 */
export interface ModelSource {
  /**
   * Absolute path of a verified directory of the version, fetched first when needed. Called with
   * the worker's lease on the version held. `via`: answered from the loader's ready list
   * (`index`) or by the loader itself.
   */
  ensure(
    ref: ModelVersionRef,
    timeoutMs: number,
  ): Promise<{ path: string; cached: boolean; via?: 'index' | 'loader' }>;
  /** This worker no longer uses the version: the loader may drop its files (if no one holds them). */
  release(ref: ModelVersionRef): Promise<void>;
  /** Stops waiting for answers (shutdown). */
  close?(): Promise<void>;
}

/** Injection token: the {@link LeaseStore} (loader-client's ModelLeases in production). */
export const LEASE_STORE = Symbol('LEASE_STORE');

/** Worker leases on cached versions (the loader never evicts a leased version). */
export interface LeaseStore {
  acquireLease(
    domain: string,
    model: string,
    version: number,
    workerId: string,
    ttlMs: number,
  ): Promise<boolean>;
  refreshLease(
    domain: string,
    model: string,
    version: number,
    workerId: string,
    ttlMs: number,
  ): Promise<boolean>;
  releaseLease(domain: string, model: string, version: number, workerId: string): Promise<boolean>;
}
