import type { ModelRegistryRepository } from '@strata/model-registry';

/** What the loader needs from the registry: a ready, undeleted version (NotFoundError otherwise). */
export type RegistryReader = Pick<ModelRegistryRepository, 'resolve'>;

export const REGISTRY_READER = Symbol('REGISTRY_READER');
