import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Config } from '@strata/config';
import { describeCause, RegistryError } from './errors';
import { classifyS3Error, S3StoreError } from './s3-errors';

/** A local file could not be read (or changed) while it was being uploaded. */
export class LocalFileError extends RegistryError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

function isLocalReadError(error: unknown): boolean {
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  return syscall === 'read' || syscall === 'open' || syscall === 'fstat';
}

export const MIN_PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 4;
export const DEFAULT_MAX_ATTEMPTS = 3;

export interface S3ArtifactStoreOptions {
  bucket: string;
  /** Unset: AWS S3 of `region`. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Unset: the AWS default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Attempts per request, retries included (default 3). */
  maxAttempts?: number;
  /** Multipart part size; at least 8 MiB (default 8 MiB). */
  partSizeBytes?: number;
  /** Parts in flight per upload (default 4). */
  queueSize?: number;
  /** TCP connect timeout (default 5 s). */
  connectionTimeoutMs?: number;
  /** Socket idle timeout of a request (default 60 s). */
  requestTimeoutMs?: number;
}

export type S3Settings = Pick<
  Config,
  | 'S3_BUCKET'
  | 'S3_ENDPOINT'
  | 'S3_REGION'
  | 'S3_FORCE_PATH_STYLE'
  | 'S3_ACCESS_KEY_ID'
  | 'S3_SECRET_ACCESS_KEY'
>;

export interface UploadProgress {
  key: string;
  loaded: number;
  total: number;
}

export interface UploadOptions {
  onProgress?: (progress: UploadProgress) => void;
  contentType?: string;
  signal?: AbortSignal;
}

export interface ObjectInfo {
  size: number;
  etag: string | undefined;
  lastModified: Date | undefined;
}

export interface ObjectStream {
  body: Readable;
  /** Bytes in `body` (of the range when one was asked for). */
  contentLength: number | undefined;
  etag: string | undefined;
  /** `bytes start-end/total` for ranged reads. */
  contentRange: string | undefined;
}

export interface GetStreamOptions {
  /** Inclusive byte range; `end` omitted = to the end of the object. */
  range?: { start: number; end?: number };
  signal?: AbortSignal;
}

/** Read access the model-loader needs; {@link S3ArtifactStore} implements it. */
export interface ArtifactReader {
  head(key: string): Promise<ObjectInfo | null>;
  getStream(key: string, options?: GetStreamOptions): Promise<ObjectStream>;
}

/**
 * Model artifacts in one bucket. Every failure is an {@link S3StoreError} naming the operation,
 * bucket, key and kind. Checksums are only computed or validated when an operation requires them:
 * S3-compatible servers (s3rver, older MinIO) store aws-chunked stream bodies with their framing
 * otherwise, corrupting the object silently.
 */
export class S3ArtifactStore implements ArtifactReader {
  readonly bucket: string;
  readonly endpoint: string;
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ArtifactStoreOptions) {
    this.bucket = options.bucket;
    this.endpoint = options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
    this.partSize = Math.max(options.partSizeBytes ?? MIN_PART_SIZE, MIN_PART_SIZE);
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: Math.min(Math.max(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 1), 10),
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
        requestTimeout: options.requestTimeoutMs ?? 60_000,
      },
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.credentials) config.credentials = options.credentials;
    this.client = new S3Client(config);
  }

  /** From `@strata/config` (`loadConfig('cli')` or `loadConfig('model-loader')`). */
  static fromConfig(
    config: S3Settings,
    overrides: Partial<Omit<S3ArtifactStoreOptions, 'bucket'>> = {},
  ): S3ArtifactStore {
    if (!config.S3_BUCKET) throw new RegistryError('S3_BUCKET is not set');
    const credentials =
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined;
    return new S3ArtifactStore({
      bucket: config.S3_BUCKET,
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials,
      ...overrides,
    });
  }

  private fail(operation: string, key: string | undefined, error: unknown): S3StoreError {
    if (error instanceof S3StoreError) return error;
    const { kind, status, detail } = classifyS3Error(error, { keyed: key !== undefined });
    return new S3StoreError(
      kind,
      operation,
      this.bucket,
      key,
      this.endpoint,
      status,
      detail,
      error,
    );
  }

  /** HeadBucket: proves the endpoint answers, the bucket exists and the credentials work. */
  async checkBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw this.fail('HeadBucket', undefined, error);
    }
  }

  /**
   * Uploads a local file (multipart above the part size); resolves once S3 has all of it.
   * `expectedSize` refuses a file that changed since it was hashed.
   */
  async uploadFile(
    key: string,
    filePath: string,
    options: UploadOptions & { expectedSize?: number } = {},
  ): Promise<void> {
    // Opened first so a missing or unreadable file fails as a local error, not as an S3 one.
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(filePath, 'r');
    } catch (error) {
      throw new LocalFileError(`Cannot read ${filePath}: ${describeCause(error)}`, error);
    }
    const { size } = await handle.stat();
    if (options.expectedSize !== undefined && size !== options.expectedSize) {
      await handle.close();
      throw new LocalFileError(
        `${filePath} is ${size} bytes, expected ${options.expectedSize}: it changed after it was hashed`,
      );
    }
    const body = handle.createReadStream({ start: 0, autoClose: true });
    try {
      await this.upload(key, body, size, options);
    } finally {
      body.destroy();
    }
  }

  /** Uploads bytes held in memory (generated files, the manifest). */
  async uploadBuffer(key: string, data: Buffer, options: UploadOptions = {}): Promise<void> {
    await this.upload(key, data, data.length, options);
  }

  private async upload(
    key: string,
    body: Readable | Buffer,
    size: number,
    options: UploadOptions,
  ): Promise<void> {
    const abortController = new AbortController();
    const onAbort = () => abortController.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        // A read stream's byte count cannot be derived from it; the part count check needs it.
        ContentLength: size,
        ContentType: options.contentType ?? 'application/octet-stream',
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // Parts are aborted below instead: lib-storage's own abort replaces the upload's error with
      // the abort's when that fails too (s3rver has no AbortMultipartUpload).
      leavePartsOnError: true,
      abortController,
    });
    if (options.onProgress) {
      const report = options.onProgress;
      upload.on('httpUploadProgress', (p) => report({ key, loaded: p.loaded ?? 0, total: size }));
    }
    try {
      await upload.done();
    } catch (error) {
      await this.abortMultipart(key, upload.uploadId);
      if (isLocalReadError(error))
        throw new LocalFileError(
          `Reading the source of ${key} failed: ${describeCause(error)}`,
          error,
        );
      throw this.fail('upload', key, error);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Best effort: a failed multipart upload's parts should not linger (and cost) in the bucket. */
  private async abortMultipart(key: string, uploadId: string | undefined): Promise<void> {
    if (!uploadId) return;
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch {
      // The upload's own error is the one worth reporting.
    }
  }

  /** Size and ETag of an object, or `null` when there is none (HeadObject 404). */
  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, etag: out.ETag, lastModified: out.LastModified };
    } catch (error) {
      const failure = this.fail('HeadObject', key, error);
      if (failure.kind === 'no-such-key') return null;
      throw failure;
    }
  }

  /** Streams an object (or an inclusive byte range of it). */
  async getStream(key: string, options: GetStreamOptions = {}): Promise<ObjectStream> {
    const range = options.range
      ? `bytes=${options.range.start}-${options.range.end ?? ''}`
      : undefined;
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }),
        { abortSignal: options.signal },
      );
      if (!out.Body) throw new RegistryError(`GetObject of ${key} returned no body`);
      return {
        body: out.Body as Readable,
        contentLength: out.ContentLength,
        etag: out.ETag,
        contentRange: out.ContentRange,
      };
    } catch (error) {
      throw this.fail('GetObject', key, error);
    }
  }

  async deleteObject(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw this.fail('DeleteObject', key, error);
    }
  }

  /** Keys under `prefix` (one listing page of up to `max`). */
  async listKeys(prefix: string, max = 1000): Promise<string[]> {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: max }),
      );
      return (out.Contents ?? []).map((o) => o.Key).filter((k): k is string => !!k);
    } catch (error) {
      throw this.fail('ListObjectsV2', prefix, error);
    }
  }

  /**
   * Deletes every object under `prefix` (which should end with '/'); returns how many. Lists the
   * first page again after each round instead of following continuation tokens: what was listed
   * is gone, and some S3-compatible servers page unreliably.
   */
  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '' || !prefix.endsWith('/'))
      throw new RegistryError(`Refusing to delete prefix "${prefix}": it must end with '/'`);
    let deleted = 0;
    let previous = '';
    for (;;) {
      const keys = await this.listKeys(prefix);
      if (keys.length === 0) return deleted;
      const signature = keys.join('\n');
      if (signature === previous)
        throw new RegistryError(
          `Deleting s3://${this.bucket}/${prefix} made no progress (${keys.length} objects remain)`,
        );
      previous = signature;
      for (let i = 0; i < keys.length; i += this.queueSize) {
        await Promise.all(keys.slice(i, i + this.queueSize).map((k) => this.deleteObject(k)));
      }
      deleted += keys.length;
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
