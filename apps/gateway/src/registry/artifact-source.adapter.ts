import { promises as fs } from 'node:fs';
import { diskPaths, manifestDigest, parseManifest, s3FileKey } from '@strata/artifact-layout';
import { S3StoreError, type S3ArtifactStore } from '@strata/model-registry';
import { UnavailableError } from '../http/http-errors';

/** Small artifact files are read whole; anything larger than this is refused. */
export const MAX_SMALL_FILE_BYTES = 4 * 1024 * 1024;

export interface VersionFileRef {
  model: string;
  version: number;
  /** The registry's manifest digest: a disk copy counts only if its manifest has the same. */
  manifestDigest: string;
}

/** Reads one small file of a version; undefined when the version has no such file. */
export interface ArtifactSource {
  read(ref: VersionFileRef, file: string): Promise<Buffer | undefined>;
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile() || stat.size > MAX_SMALL_FILE_BYTES) return undefined;
    return await fs.readFile(file);
  } catch {
    return undefined;
  }
}

/**
 * The model-loader's verified disk copy when this gateway shares its cache directory (and the
 * copy's manifest matches the registry's digest: a deleted and re-published name may have an
 * old copy), else S3. Without S3 configuration only the disk is tried.
 */
export class DiskOrS3ArtifactSource implements ArtifactSource {
  constructor(
    private readonly cacheDir: string,
    private readonly store: S3ArtifactStore | undefined,
    private readonly s3Prefix: string,
  ) {}

  async read(ref: VersionFileRef, file: string): Promise<Buffer | undefined> {
    const fromDisk = await this.readFromDisk(ref, file);
    if (fromDisk.usable) return fromDisk.data;
    if (!this.store) return undefined;
    return this.readFromS3(ref, file);
  }

  private async readFromDisk(
    ref: VersionFileRef,
    file: string,
  ): Promise<{ usable: boolean; data?: Buffer }> {
    let paths;
    try {
      paths = diskPaths(this.cacheDir, ref.model, ref.version);
    } catch {
      return { usable: false };
    }
    const manifestBytes = await readIfExists(paths.manifest);
    if (!manifestBytes) return { usable: false };
    try {
      const manifest = parseManifest(manifestBytes.toString('utf8'), {
        expect: { model: ref.model, version: ref.version },
      });
      if (manifestDigest(manifest) !== ref.manifestDigest) return { usable: false };
      if (!manifest.files.some((f) => f.path === file)) return { usable: true };
    } catch {
      return { usable: false };
    }
    const data = await readIfExists(paths.file(file));
    return data ? { usable: true, data } : { usable: false };
  }

  private async readFromS3(ref: VersionFileRef, file: string): Promise<Buffer | undefined> {
    const key = s3FileKey(this.s3Prefix, ref.model, ref.version, file);
    try {
      const { body, contentLength } = await this.store!.getStream(key);
      if (contentLength !== undefined && contentLength > MAX_SMALL_FILE_BYTES) {
        body.destroy();
        throw new UnavailableError(`${file} of ${ref.model}/${ref.version} is too large to read`);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of body) {
        total += (chunk as Buffer).length;
        if (total > MAX_SMALL_FILE_BYTES) {
          body.destroy();
          throw new UnavailableError(`${file} of ${ref.model}/${ref.version} is too large to read`);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    } catch (err) {
      if (err instanceof S3StoreError && err.kind === 'no-such-key') return undefined;
      throw err;
    }
  }
}
