import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  buildManifest,
  hashFile,
  ManifestError,
  parseManifest,
  serializeManifest,
  verifyDirectory,
  verifyFile,
  type Manifest,
} from '@strata/artifact-layout';
import { makeTmpDir, removeTmpDir } from './helpers';

// The preset's per-project testTimeout is not applied by Jest 30 (it is a global option);
// these tests spawn processes and fsync megabytes, so give them room on a loaded machine.
jest.setTimeout(120_000);

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('manifest on a real file system', () => {
  let root: string;
  let dir: string;
  let weights: Buffer;
  let manifest: Manifest;

  beforeAll(() => {
    root = makeTmpDir('manifest');
  });
  afterAll(() => removeTmpDir(root));

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(root, 'v-'));
    weights = randomBytes(3 * 1024 * 1024 + 17);
    await fs.writeFile(path.join(dir, 'weights.onnx'), weights);
    await fs.writeFile(path.join(dir, 'class_names.txt'), 'cat\ndog\n');
    await fs.writeFile(path.join(dir, 'environment.json'), '{"mean":[0.5]}');
    await fs.writeFile(path.join(dir, 'empty.txt'), '');
    manifest = await buildManifest(dir, {
      model: 'resnet50',
      version: '3',
      createdAt: new Date('2025-05-06T07:08:09Z'),
    });
  });

  it('buildManifest hashes every top-level file, sorted, and skips manifest.json', async () => {
    await fs.writeFile(path.join(dir, 'manifest.json'), serializeManifest(manifest));
    const again = await buildManifest(dir, { model: 'resnet50', version: 3 });
    expect(again.files).toEqual(manifest.files);
    expect(manifest).toEqual({
      formatVersion: 1,
      model: 'resnet50',
      version: 3,
      createdAt: '2025-05-06T07:08:09.000Z',
      files: [
        { path: 'class_names.txt', size: 8, sha256: sha('cat\ndog\n') },
        { path: 'empty.txt', size: 0, sha256: sha('') },
        { path: 'environment.json', size: 14, sha256: sha('{"mean":[0.5]}') },
        { path: 'weights.onnx', size: weights.length, sha256: sha(weights) },
      ],
    });
    expect(parseManifest(serializeManifest(manifest))).toEqual(manifest);
  });

  it('verifyDirectory accepts an intact directory, with and without checksums', async () => {
    await fs.writeFile(path.join(dir, 'manifest.json'), serializeManifest(manifest));
    expect(await verifyDirectory(dir, manifest, { checksums: true })).toEqual({
      ok: true,
      mismatches: [],
    });
    expect((await verifyDirectory(dir, manifest, { checksums: false })).ok).toBe(true);
  });

  it('detects a flipped byte by checksum (sizes alone cannot)', async () => {
    const flipped = Buffer.from(weights);
    flipped[1_234_567] ^= 0x01;
    await fs.writeFile(path.join(dir, 'weights.onnx'), flipped);
    expect(await verifyDirectory(dir, manifest, { checksums: true })).toEqual({
      ok: false,
      mismatches: [
        { path: 'weights.onnx', kind: 'sha256', expected: sha(weights), actual: sha(flipped) },
      ],
    });
    expect((await verifyDirectory(dir, manifest, { checksums: false })).ok).toBe(true);
  });

  it('detects a truncated file by size, even without checksums', async () => {
    await fs.truncate(path.join(dir, 'weights.onnx'), 1000);
    const expected = {
      ok: false,
      mismatches: [{ path: 'weights.onnx', kind: 'size', expected: weights.length, actual: 1000 }],
    };
    expect(await verifyDirectory(dir, manifest, { checksums: true })).toEqual(expected);
    expect(await verifyDirectory(dir, manifest, { checksums: false })).toEqual(expected);
  });

  it('reports missing, replaced-by-symlink and unexpected files precisely', async () => {
    await fs.rm(path.join(dir, 'class_names.txt'));
    await fs.rm(path.join(dir, 'environment.json'));
    await fs.symlink(path.join(dir, 'empty.txt'), path.join(dir, 'environment.json'));
    await fs.writeFile(path.join(dir, 'zzz.bin'), 'x');
    const report = await verifyDirectory(dir, manifest, { checksums: true });
    expect(report.ok).toBe(false);
    expect(report.mismatches).toEqual([
      { path: 'class_names.txt', kind: 'missing' },
      { path: 'environment.json', kind: 'not-a-file' },
      { path: 'zzz.bin', kind: 'unexpected' },
    ]);
  });

  it('reports every file missing when the directory is gone', async () => {
    await fs.rm(dir, { recursive: true });
    const report = await verifyDirectory(dir, manifest, { checksums: false });
    expect(report.mismatches.map((m) => m.kind)).toEqual([
      'missing',
      'missing',
      'missing',
      'missing',
    ]);
  });

  it('verifyFile compares a single file', async () => {
    const entry = manifest.files.find((f) => f.path === 'weights.onnx')!;
    expect(await verifyFile(path.join(dir, 'weights.onnx'), entry)).toBeNull();
    expect(await verifyFile(path.join(dir, 'nope'), entry)).toEqual({
      path: 'weights.onnx',
      kind: 'missing',
    });
    expect(await verifyFile(dir, entry)).toEqual({ path: 'weights.onnx', kind: 'not-a-file' });
  });

  it.each<[string, (d: string) => Promise<unknown>, RegExp]>([
    [
      'a symlink',
      (d) => fs.symlink('/etc/passwd', path.join(d, 'labels.txt')),
      /"labels.txt" is a symlink/,
    ],
    ['a subdirectory', (d) => fs.mkdir(path.join(d, 'sub')), /"sub" is a subdirectory/],
    [
      'an uppercase name',
      (d) => fs.writeFile(path.join(d, 'README.md'), 'x'),
      /"README.md" is not an allowed file name/,
    ],
    [
      'a hidden file',
      (d) => fs.writeFile(path.join(d, '.DS_Store'), 'x'),
      /".DS_Store" is not an allowed/,
    ],
    ['no weights.onnx', (d) => fs.rm(path.join(d, 'weights.onnx')), /weights.onnx is missing/],
  ])('buildManifest refuses %s', async (_case, setup, reason) => {
    await setup(dir);
    const err = await buildManifest(dir, { model: 'm', version: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as Error).message).toMatch(reason);
  });

  it('hashFile streams a regular file and refuses a symlink', async () => {
    expect(await hashFile(path.join(dir, 'weights.onnx'))).toEqual({
      size: weights.length,
      sha256: sha(weights),
    });
    await fs.symlink(path.join(dir, 'weights.onnx'), path.join(dir, 'link'));
    await expect(hashFile(path.join(dir, 'link'))).rejects.toThrow(/not a regular file/);
  });
});
