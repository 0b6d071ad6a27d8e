import type { ModelRegistryRepository } from '@strata/model-registry';

/** What the loader needs from the registry: where a ready, undeleted version's files are. */
export type RegistryReader = Pick<ModelRegistryRepository, 'resolveArtifact'>;

export const REGISTRY_READER = Symbol('REGISTRY_READER');
