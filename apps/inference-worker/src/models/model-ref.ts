import type { ModelVersionRef } from '@strata/cache-keys';

/** `model/version`: the key of a version in the pool, metrics and logs. */
export function modelKey(ref: ModelVersionRef): string {
  return `${ref.model}/${ref.version}`;
}
