import type { ModelRegistryRepository } from './model-registry.repository';
import type { RegistryEventSink } from './registry-events.publisher';
import {
  AliasNotFoundError,
  ModelNotFoundError,
  RegistryError,
  VersionNotFoundError,
} from './errors';

/** Redis did not take the generation bump: the cached predictions may still be served. */
export class CacheInvalidationError extends RegistryError {
  constructor(
    readonly model: string,
    readonly versions: number[],
  ) {
    super(
      `Could not invalidate the cached predictions of ${model} (version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}): Redis did not answer; nothing is guaranteed until it does, run the command again`,
    );
  }
}

export interface CacheInvalidation {
  model: string;
  /** Versions whose cache generation moved on. */
  versions: number[];
}

/**
 * `strata cache invalidate NAME[/VERSION|/ALIAS]` and its admin endpoint: bumps the cache
 * generation of the version (or of every version of the model, deleted ones included, since
 * their entries may still sit in Redis until their TTL). Prediction digests include the
 * generation, so every existing entry becomes unreachable with one INCR per version; the
 * entries themselves expire with their TTL.
 */
export class PredictionCacheAdmin {
  constructor(
    private readonly deps: {
      repository: Pick<ModelRegistryRepository, 'getModel'>;
      events: Pick<RegistryEventSink, 'bumpGeneration'>;
    },
  ) {}

  /** `ref`: a version number, an alias, or absent for every version. */
  async invalidate(model: string, ref?: number | string): Promise<CacheInvalidation> {
    const record = await this.deps.repository.getModel(model, { includeDeleted: true });
    if (!record) throw new ModelNotFoundError(model);
    let versions: number[];
    if (ref === undefined) {
      versions = record.versions.map((v) => v.version);
    } else if (typeof ref === 'number') {
      if (!record.versions.some((v) => v.version === ref))
        throw new VersionNotFoundError(model, ref);
      versions = [ref];
    } else {
      const alias = record.aliases.find((a) => a.alias === ref);
      if (!alias) throw new AliasNotFoundError(model, ref);
      versions = [alias.version];
    }
    const failed: number[] = [];
    for (const version of versions) {
      if (!(await this.deps.events.bumpGeneration(model, version))) failed.push(version);
    }
    if (failed.length > 0) throw new CacheInvalidationError(model, failed);
    return { model, versions };
  }
}
