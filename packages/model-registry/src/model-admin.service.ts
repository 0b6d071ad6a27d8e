import { s3ModelPrefix } from '@strata/artifact-layout';
import { describeCause } from './errors';
import type { ModelRegistryRepository } from './model-registry.repository';
import { NO_EVENTS, type RegistryEvent, type RegistryEventSink } from './registry-events.publisher';
import { LATEST_ALIAS, type AliasMove, type VersionRecord } from './types';

/** What the admin operations need from S3; {@link S3ArtifactStore} provides it. */
export interface ArtifactRemover {
  readonly bucket: string;
  deletePrefix(prefix: string): Promise<number>;
}

/** Outcome of removing files from S3 after the registry changed: the registry change stands either way. */
export type StorageCleanup =
  | { ok: true; prefix: string; deletedObjects: number }
  | { ok: false; prefix: string; error: string };

export interface ModelAdminDeps {
  repository: ModelRegistryRepository;
  /** Omitted: deletions leave the files in S3. */
  store?: ArtifactRemover;
  /** `S3_PREFIX` (may be empty). */
  s3Prefix: string;
  events?: RegistryEventSink;
}

/**
 * Registry changes with their side effects: alias moves and deletions publish invalidation
 * events, deletions bump the cache generation of every removed version (its cached predictions
 * become unreachable at once) and remove the files from S3.
 */
export class ModelAdminService {
  private readonly events: RegistryEventSink;

  constructor(private readonly deps: ModelAdminDeps) {
    this.events = deps.events ?? NO_EVENTS;
  }

  async setAlias(
    model: string,
    alias: string,
    version: number,
  ): Promise<AliasMove & { eventsPublished: boolean }> {
    const move = await this.deps.repository.setAlias(model, alias, version);
    const eventsPublished =
      move.previous === move.version ||
      (await this.events.publish({ type: 'alias-moved', model, ...move }));
    return { ...move, eventsPublished };
  }

  async deleteAlias(
    model: string,
    alias: string,
  ): Promise<{ alias: string; previous: number; eventsPublished: boolean }> {
    const previous = await this.deps.repository.deleteAlias(model, alias);
    const eventsPublished = await this.events.publish({
      type: 'alias-removed',
      model,
      alias,
      previous,
    });
    return { alias, previous, eventsPublished };
  }

  async deleteVersion(
    model: string,
    version: number,
    options: { force?: boolean } = {},
  ): Promise<{
    version: VersionRecord;
    removedAliases: string[];
    latest: number | null;
    storage: StorageCleanup | null;
    eventsPublished: boolean;
  }> {
    const result = await this.deps.repository.deleteVersion(model, version, options);
    let ok = await this.events.bumpGeneration(model, version);
    ok = (await this.events.publish({ type: 'version-deleted', model, version })) && ok;
    for (const alias of result.removedAliases)
      ok =
        (await this.events.publish({ type: 'alias-removed', model, alias, previous: version })) &&
        ok;
    const { latest } = result;
    if (latest.version !== latest.previous) {
      const event: RegistryEvent =
        latest.version === null
          ? {
              type: 'alias-removed',
              model,
              alias: LATEST_ALIAS,
              previous: latest.previous ?? version,
            }
          : {
              type: 'alias-moved',
              model,
              alias: LATEST_ALIAS,
              version: latest.version,
              previous: latest.previous,
            };
      ok = (await this.events.publish(event)) && ok;
    }
    const storage = await this.cleanup(result.version.storagePrefix);
    return {
      version: result.version,
      removedAliases: result.removedAliases,
      latest: latest.version,
      storage,
      eventsPublished: ok,
    };
  }

  async deleteModel(
    model: string,
    options: { force?: boolean } = {},
  ): Promise<{
    model: string;
    versions: number[];
    aliases: string[];
    storage: StorageCleanup | null;
    eventsPublished: boolean;
  }> {
    const result = await this.deps.repository.deleteModel(model, options);
    const versions = result.versions.map((v) => v.version);
    let ok = true;
    for (const v of versions) ok = (await this.events.bumpGeneration(model, v)) && ok;
    ok = (await this.events.publish({ type: 'model-deleted', model, versions })) && ok;
    const storage = await this.cleanup(s3ModelPrefix(this.deps.s3Prefix, model));
    return { model, versions, aliases: result.aliases, storage, eventsPublished: ok };
  }

  private async cleanup(prefix: string): Promise<StorageCleanup | null> {
    if (!this.deps.store) return null;
    try {
      return { ok: true, prefix, deletedObjects: await this.deps.store.deletePrefix(prefix) };
    } catch (error) {
      return { ok: false, prefix, error: describeCause(error) };
    }
  }
}
