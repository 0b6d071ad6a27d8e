import type { Readable } from 'node:stream';
import { ARTIFACT_FILES, validateArtifactFileName } from '@strata/artifact-layout';
import type { ArtifactReader, HttpOriginSource } from '@strata/model-registry';
import type { SourceKind } from './loader-errors';

export interface OpenedFile {
  body: Readable;
  /** As announced by the source, when it said. */
  contentLength: number | undefined;
}

/** Where the files of one version come from: S3, or the version's HTTP origin. */
export interface ArtifactSource {
  readonly kind: SourceKind;
  /** `s3://bucket/key` or the URL, for messages. */
  describe(file: string): string;
  open(file: string, signal?: AbortSignal): Promise<OpenedFile>;
}

export class S3Source implements ArtifactSource {
  readonly kind = 's3' as const;
  private readonly versionPrefix: string;

  /** `versionPrefix`: the version's `storagePrefix` from the registry (`…/models/{m}/{v}/`). */
  constructor(
    private readonly reader: ArtifactReader,
    private readonly bucket: string,
    versionPrefix: string,
  ) {
    this.versionPrefix = versionPrefix.endsWith('/') ? versionPrefix : `${versionPrefix}/`;
  }

  describe(file: string): string {
    return `s3://${this.bucket}/${this.key(file)}`;
  }

  async open(file: string, signal?: AbortSignal): Promise<OpenedFile> {
    const out = await this.reader.getStream(this.key(file), { signal });
    return { body: out.body, contentLength: out.contentLength };
  }

  private key(file: string): string {
    const name = file === ARTIFACT_FILES.manifest ? file : validateArtifactFileName(file);
    return `${this.versionPrefix}${name}`;
  }
}

export class OriginSource implements ArtifactSource {
  readonly kind = 'origin' as const;

  constructor(
    private readonly origin: HttpOriginSource,
    private readonly originUrl: string,
  ) {}

  describe(file: string): string {
    return `${this.originUrl.replace(/\/+$/, '')}/${file}`;
  }

  async open(file: string, signal?: AbortSignal): Promise<OpenedFile> {
    const out = await this.origin.getStream(this.originUrl, file, { signal });
    return { body: out.body, contentLength: out.contentLength };
  }
}
