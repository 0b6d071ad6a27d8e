import { Inject, Injectable } from '@nestjs/common';
import { s3VersionPrefix } from '@strata/artifact-layout';
import type { ArtifactReader, HttpOriginSource } from '@strata/model-registry';
import { LOADER_SETTINGS, type LoaderSettings } from '../loader.settings';
import { OriginSource, S3Source, type ArtifactSource } from './artifact-source.adapter';

/** The S3 bucket's reader (an `S3ArtifactStore` in production). */
export const ARTIFACT_STORE = Symbol('ARTIFACT_STORE');
/** The `HttpOriginSource` used for versions that have an origin URL. */
export const ORIGIN_SOURCE = Symbol('ORIGIN_SOURCE');

export type ArtifactStore = ArtifactReader & { readonly bucket: string };

/** The sources of a version, in the order they are tried: S3, then its HTTP origin if any. */
@Injectable()
export class ArtifactSourceFactory {
  constructor(
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    @Inject(ORIGIN_SOURCE) private readonly origin: HttpOriginSource,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
  ) {}

  /**
   * S3 keys come from the version's `storagePrefix` (where it was published, whatever S3_PREFIX
   * is now); S3_PREFIX only stands in for a row that has none.
   */
  forVersion(
    model: string,
    version: number,
    where: { storagePrefix: string; originUrl: string | null },
  ): ArtifactSource[] {
    const prefix = where.storagePrefix || s3VersionPrefix(this.settings.s3Prefix, model, version);
    const sources: ArtifactSource[] = [new S3Source(this.store, this.store.bucket, prefix)];
    if (where.originUrl) sources.push(new OriginSource(this.origin, where.originUrl));
    return sources;
  }
}
