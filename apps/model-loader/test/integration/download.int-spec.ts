import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { manifestDigest, serializeManifest, type Manifest } from '@strata/artifact-layout';
import { Registry } from 'prom-client';
import type { ArtifactSource } from '../../src/artifacts/artifact-source.adapter';
import {
  DiskCacheRepository,
  type ReservedStaging,
} from '../../src/artifacts/disk-cache.repository';
import { DownloadService } from '../../src/artifacts/download.service';
import { ChecksumError, SourceError } from '../../src/artifacts/loader-errors';
import { LoaderMetrics } from '../../src/artifacts/loader.metrics';
import type { LoaderSettings } from '../../src/loader.settings';
import { tempDir } from '../support/fixtures';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A source serving files from memory; `announce` overrides the announced length. */
function memorySource(
  files: Record<string, Buffer>,
  announce: Record<string, number> = {},
): ArtifactSource {
  return {
    kind: 's3',
    describe: (f) => `mem://${f}`,
    async open(file) {
      const data = files[file];
      if (!data) throw new Error(`NoSuchKey: ${file}`);
      const chunks = [];
      for (let i = 0; i < data.length; i += 1000) chunks.push(data.subarray(i, i + 1000));
      return { body: Readable.from(chunks), contentLength: announce[file] ?? data.length };
    },
  };
}

describe('DownloadService (fake sources, real disk)', () => {
  const weights = Buffer.alloc(10_000, 7);
  const manifest: Manifest = {
    formatVersion: 1,
    model: 'm',
    version: 1,
    files: [{ path: 'weights.onnx', size: weights.length, sha256: sha(weights) }],
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  const manifestText = Buffer.from(serializeManifest(manifest));
  const expected = { model: 'm', version: 1, manifestDigest: manifestDigest(manifest) };
  let dir: string;
  let staging: ReservedStaging;
  const service = new DownloadService(new LoaderMetrics(new Registry()));
  afterAll(() => service.onApplicationShutdown());

  beforeEach(async () => {
    dir = await tempDir('download');
    const disk = new DiskCacheRepository({ cacheDir: dir } as LoaderSettings);
    staging = await disk.createStaging({
      model: 'm',
      version: 1,
      bytes: 10_000,
      lockKey: 'k',
      lockToken: 't',
    });
  });
  afterEach(async () => {
    await staging.discard();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes verified files and the manifest into staging', async () => {
    const out = await service.fetchVersion(
      staging,
      memorySource({ 'manifest.json': manifestText, 'weights.onnx': weights }),
      expected,
    );
    expect(out.bytes).toBe(weights.length + manifestText.length);
    expect(await fs.readFile(path.join(staging.dir, 'weights.onnx'))).toEqual(weights);
    expect(await fs.readFile(staging.manifestPath)).toEqual(manifestText);
  });

  it('refuses a manifest whose digest is not the registry one', async () => {
    const err = await service
      .fetchVersion(
        staging,
        memorySource({ 'manifest.json': manifestText, 'weights.onnx': weights }),
        {
          ...expected,
          manifestDigest: '0'.repeat(64),
        },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as Error).message).toMatch(
      /manifest.json from s3: manifest digest [0-9a-f]{64} does not match/,
    );
  });

  it('refuses a manifest of another version', async () => {
    const other = Buffer.from(serializeManifest({ ...manifest, version: 2 }));
    const err = await service
      .fetchVersion(
        staging,
        memorySource({ 'manifest.json': other, 'weights.onnx': weights }),
        expected,
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as Error).message).toContain('expected m/1');
  });

  it('stops at once when a file is larger than the manifest says', async () => {
    const bigger = Buffer.concat([weights, Buffer.alloc(5000)]);
    const err = await service
      .fetchVersion(
        staging,
        memorySource(
          { 'manifest.json': manifestText, 'weights.onnx': bigger },
          { 'weights.onnx': weights.length },
        ),
        expected,
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as Error).message).toContain('more than the 10000 bytes');
  });

  it('refuses a length announced differently from the manifest before reading', async () => {
    const err = await service
      .fetchVersion(
        staging,
        memorySource(
          { 'manifest.json': manifestText, 'weights.onnx': weights },
          { 'weights.onnx': 3 },
        ),
        expected,
      )
      .catch((e: unknown) => e);
    expect((err as Error).message).toContain('announces 3 bytes, the manifest 10000');
  });

  it('reports a short file as a size mismatch and a missing one as a source error', async () => {
    const short = await service
      .fetchVersion(
        staging,
        memorySource(
          { 'manifest.json': manifestText, 'weights.onnx': weights.subarray(0, 10) },
          { 'weights.onnx': weights.length },
        ),
        expected,
      )
      .catch((e: unknown) => e);
    expect((short as Error).message).toContain('size 10, expected 10000');
    await staging.reset();
    const missing = await service
      .fetchVersion(staging, memorySource({ 'manifest.json': manifestText }), expected)
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SourceError);
    expect((missing as Error).message).toBe('weights.onnx from s3: NoSuchKey: weights.onnx');
  });
});
