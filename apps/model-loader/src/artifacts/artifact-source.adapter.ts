import type { Readable } from 'node:stream';
import { s3Keys } from '@strata/artifact-layout';
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
  private readonly keys: ReturnType<typeof s3Keys>;

  constructor(
    private readonly reader: ArtifactReader,
    private readonly bucket: string,
    s3Prefix: string,
    model: string,
    version: number,
  ) {
    this.keys = s3Keys(s3Prefix, model, version);
  }

  describe(file: string): string {
    return `s3://${this.bucket}/${this.keys.file(file)}`;
  }

  async open(file: string, signal?: AbortSignal): Promise<OpenedFile> {
    const out = await this.reader.getStream(this.keys.file(file), { signal });
    return { body: out.body, contentLength: out.contentLength };
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
