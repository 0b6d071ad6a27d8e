import { promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import {
  ARTIFACT_FILES,
  manifestDigest,
  parseManifest,
  type Manifest,
  type ManifestEntry,
} from '@strata/artifact-layout';
import type { ArtifactSource, OpenedFile } from './artifact-source.adapter';
import type { ReservedStaging } from './disk-cache.repository';
import { ChecksumError, messageOf, SourceError } from './loader-errors';
import { LoaderMetrics } from './loader.metrics';
import { FileHasher } from './file-hasher.adapter';
import { SyncedFileWriter } from './synced-file.writer';

/** What the registry promises about a version. */
export interface ExpectedVersion {
  model: string;
  version: number;
  /** `manifestDigest()` of its manifest, from Postgres. */
  manifestDigest: string;
}

export interface FetchedManifest {
  manifest: Manifest;
  /** The bytes as served, written unchanged into the version directory. */
  raw: Buffer;
}

/**
 * A file whose GET was sent before its manifest was proven and its space reserved: its bytes
 * wait in the socket until `fetchFiles` takes it, or it is cancelled.
 */
export interface EarlyOpen {
  readonly file: string;
  /** The opened file, the first time only (a retry opens it again). */
  take(): Promise<OpenedFile> | undefined;
  /** Drops it unless it was taken. Idempotent. */
  cancel(): void;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Files fetched at once; the small ones finish while weights.onnx streams. */
const FILE_CONCURRENCY = 3;

/**
 * Fetches every file of one version from one source into a staging directory and proves it:
 * the manifest must match the registry's digest, each file is hashed while it streams to disk
 * and must have exactly the manifest's size and sha256. Nothing here commits.
 *
 * The hashing runs inline where the CPU hashes in hardware, else on a worker thread that reads
 * each file right behind its writer (FileHasher's `placement`).
 */
@Injectable()
export class DownloadService implements OnApplicationShutdown {
  private readonly hasher = new FileHasher();

  constructor(private readonly metrics: LoaderMetrics) {}

  async onApplicationShutdown(): Promise<void> {
    await this.hasher.close();
  }

  /** Fetches and proves the manifest: valid, of this version, with the registry's digest. */
  async fetchManifest(source: ArtifactSource, expected: ExpectedVersion): Promise<FetchedManifest> {
    const raw = await this.readSmall(source, ARTIFACT_FILES.manifest);
    this.metrics.downloadBytes.inc({ source: source.kind }, raw.length);
    let manifest: Manifest;
    try {
      manifest = parseManifest(raw, {
        expect: { model: expected.model, version: expected.version },
      });
    } catch (err) {
      throw new ChecksumError(source.kind, ARTIFACT_FILES.manifest, messageOf(err));
    }
    const digest = manifestDigest(manifest);
    if (digest !== expected.manifestDigest)
      throw new ChecksumError(
        source.kind,
        ARTIFACT_FILES.manifest,
        `manifest digest ${digest} does not match the registry's ${expected.manifestDigest}`,
      );
    return { manifest, raw };
  }

  /** Sends the GET of `file` now; see {@link EarlyOpen}. */
  openEarly(source: ArtifactSource, file: string): EarlyOpen {
    const controller = new AbortController();
    const opened = source.open(file, controller.signal);
    opened.catch(() => undefined);
    let taken = false;
    return {
      file,
      take: () => {
        if (taken) return undefined;
        taken = true;
        return opened;
      },
      cancel: () => {
        if (taken) return;
        taken = true;
        controller.abort();
        opened.then(
          (o) => o.body.destroy(),
          () => undefined,
        );
      },
    };
  }

  /**
   * Writes the manifest and every file it lists into `staging`, each verified. Returns bytes.
   * `early`: a file of this source already opened (used if the manifest lists it).
   */
  async fetchFiles(
    staging: ReservedStaging,
    source: ArtifactSource,
    fetched: FetchedManifest,
    early?: EarlyOpen,
  ): Promise<number> {
    await fs.writeFile(staging.manifestPath, fetched.raw, { flag: 'wx' });
    let bytes = fetched.raw.length;
    await eachLimited(fetched.manifest.files, FILE_CONCURRENCY, async (entry, signal) => {
      const opened = early?.file === entry.path ? early.take() : undefined;
      bytes += await this.fetchFile(staging, source, entry, signal, opened);
    });
    return bytes;
  }

  /** Both steps, from one source. */
  async fetchVersion(
    staging: ReservedStaging,
    source: ArtifactSource,
    expected: ExpectedVersion,
  ): Promise<{ manifest: Manifest; bytes: number }> {
    const fetched = await this.fetchManifest(source, expected);
    return { manifest: fetched.manifest, bytes: await this.fetchFiles(staging, source, fetched) };
  }

  private async readSmall(source: ArtifactSource, file: string): Promise<Buffer> {
    let opened;
    try {
      opened = await source.open(file);
    } catch (err) {
      throw new SourceError(source.kind, file, err);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of opened.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_MANIFEST_BYTES) {
          opened.body.destroy();
          throw new ChecksumError(source.kind, file, `larger than ${MAX_MANIFEST_BYTES} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof ChecksumError) throw err;
      throw new SourceError(source.kind, file, err);
    }
    return Buffer.concat(chunks);
  }

  private async fetchFile(
    staging: ReservedStaging,
    source: ArtifactSource,
    entry: ManifestEntry,
    signal: AbortSignal,
    early?: Promise<OpenedFile>,
  ): Promise<number> {
    const target = staging.file(entry.path);
    let opened;
    try {
      opened = await (early ?? source.open(entry.path, signal));
    } catch (err) {
      throw new SourceError(source.kind, entry.path, err);
    }
    const body = opened.body;
    const onAbort = () => body.destroy(new Error('aborted: another file of the version failed'));
    signal.addEventListener('abort', onAbort, { once: true });
    // An early-opened file may arrive after another file already failed.
    if (signal.aborted) onAbort();
    try {
      if (opened.contentLength !== undefined && opened.contentLength !== entry.size)
        throw new ChecksumError(
          source.kind,
          entry.path,
          `the source announces ${opened.contentLength} bytes, the manifest ${entry.size}`,
        );
      let size = 0;
      const hash = this.hasher.start(target);
      const out = new SyncedFileWriter(
        target,
        (chunk) => {
          size += chunk.length;
          // Stops at once when more arrives than promised.
          if (size > entry.size)
            throw new ChecksumError(
              source.kind,
              entry.path,
              `more than the ${entry.size} bytes of the manifest`,
            );
          hash.update(chunk);
        },
        (bytes) => hash.written(bytes),
      );
      let writeError: unknown;
      out.once('error', (err) => (writeError = err));
      try {
        try {
          await pipeline(body, out);
        } catch (err) {
          if (err instanceof ChecksumError) throw err;
          // A local write failure (ENOSPC, EACCES) is not the source's fault: let it through.
          if (writeError !== undefined) throw writeError;
          throw new SourceError(source.kind, entry.path, err);
        } finally {
          this.metrics.downloadBytes.inc({ source: source.kind }, size);
        }
        if (size !== entry.size)
          throw new ChecksumError(source.kind, entry.path, `size ${size}, expected ${entry.size}`);
        const sha256 = await hash.digest(size);
        if (sha256 !== entry.sha256)
          throw new ChecksumError(
            source.kind,
            entry.path,
            `sha256 ${sha256}, expected ${entry.sha256}`,
          );
      } finally {
        hash.abort();
      }
      return size;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!body.destroyed && !body.readableEnded) body.destroy();
    }
  }
}

/**
 * Runs `fn` over `items` with at most `limit` at once. On the first failure the others are
 * aborted, and it rejects with that failure only after every started call has settled, so no
 * write is still running when the caller cleans up.
 */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await fn(item, controller.signal);
      } catch (err) {
        if (!failure) {
          failure = { err };
          controller.abort();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
}
