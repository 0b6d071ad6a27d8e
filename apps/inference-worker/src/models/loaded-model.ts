import type { ModelVersionRef } from '@strata/cache-keys';
import type { ModelTensorSpec } from '@strata/tensors';
import type { BatchingPlan } from '../batching/batch-axes';
import type { ModelBatcher } from '../batching/model-batcher';
import type { ModelSession, TensorInfo } from '../ort/model-session';

/** A version with an open session in this worker. */
export interface LoadedModel {
  readonly ref: ModelVersionRef;
  readonly key: string;
  /** Its verified directory on disk. */
  readonly path: string;
  readonly session: ModelSession;
  readonly batcher: ModelBatcher;
  readonly batching: BatchingPlan;
  /** Inputs as request validation sees them (-1 for dynamic dimensions). */
  readonly inputSpecs: readonly ModelTensorSpec[];
  readonly outputNames: readonly string[];
  readonly pinned: boolean;
  readonly loadedAt: number;
}

/** Session metadata → the specs request validation checks against. */
export function inputSpecsOf(inputs: readonly TensorInfo[]): ModelTensorSpec[] {
  return inputs.map((i) => ({
    name: i.name,
    // A type OIP lacks cannot be fed from a request; BYTES never matches a numeric input, and
    // no such model gets this far in practice (the registry refuses it at publish time).
    datatype: i.datatype ?? 'BYTES',
    ...(i.dims ? { shape: i.dims.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) } : {}),
  }));
}
