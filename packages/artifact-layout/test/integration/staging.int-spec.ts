import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  buildManifest,
  cleanStaging,
  createStaging,
  InvalidNameError,
  PathEscapeError,
  removeVersionDir,
  StagingClosedError,
  stagingRoot,
  verifyDirectory,
  versionDir,
  type Manifest,
} from '@strata/artifact-layout';
import { compileForChildren, killChildren, makeTmpDir, removeTmpDir, runChild } from './helpers';

// The preset's per-project testTimeout is not applied by Jest 30 (it is a global option);
// these tests spawn processes and fsync megabytes, so give them room on a loaded machine.
jest.setTimeout(120_000);

async function stageVersion(cacheDir: string, weights: Buffer) {
  const s = await createStaging(cacheDir);
  await fs.writeFile(s.file('weights.onnx'), weights);
  await fs.writeFile(s.file('class_names.txt'), 'cat\ndog\n');
  return s;
}

describe('staging', () => {
  let cache: string;
  beforeEach(() => {
    cache = makeTmpDir('staging');
  });
  afterEach(() => removeTmpDir(cache));

  it('creates .staging/<uuid> and commits it into place', async () => {
    const s = await stageVersion(cache, Buffer.alloc(1000, 1));
    expect(path.dirname(s.dir)).toBe(stagingRoot(cache));
    expect(path.basename(s.dir)).toMatch(/^[0-9a-f-]{36}$/);
    const target = versionDir(cache, 'resnet', 3);
    expect(await s.commit(target)).toEqual({ path: target, alreadyPresent: false });
    expect(readdirSync(target).sort()).toEqual(['class_names.txt', 'weights.onnx']);
    expect(readFileSync(path.join(target, 'class_names.txt'), 'utf8')).toBe('cat\ndog\n');
    expect(existsSync(s.dir)).toBe(false);
    expect(readdirSync(stagingRoot(cache))).toEqual([]);
    await expect(s.commit(target)).rejects.toThrow(StagingClosedError);
    await s.discard(); // no-op after commit
    expect(existsSync(target)).toBe(true);
  });

  it('reports alreadyPresent, leaves the existing copy alone and discards its own', async () => {
    const target = versionDir(cache, 'resnet', 3);
    await (await stageVersion(cache, Buffer.alloc(10, 1))).commit(target);
    const second = await stageVersion(cache, Buffer.alloc(20, 2));
    expect(await second.commit(target)).toEqual({ path: target, alreadyPresent: true });
    expect(readFileSync(path.join(target, 'weights.onnx'))).toEqual(Buffer.alloc(10, 1));
    expect(existsSync(second.dir)).toBe(false);
  });

  it('two concurrent commits to one target: one wins, the other reports alreadyPresent', async () => {
    const weights = Buffer.alloc(256 * 1024, 9);
    for (let i = 1; i <= 10; i++) {
      const target = versionDir(cache, 'resnet', i);
      const [a, b] = await Promise.all([
        stageVersion(cache, weights),
        stageVersion(cache, weights),
      ]);
      const results = await Promise.all([a.commit(target), b.commit(target)]);
      expect(results.map((r) => r.alreadyPresent).sort()).toEqual([false, true]);
      const manifest: Manifest = await buildManifest(target, { model: 'resnet', version: i });
      expect(manifest.files.map((f) => [f.path, f.size])).toEqual([
        ['class_names.txt', 8],
        ['weights.onnx', weights.length],
      ]);
      expect((await verifyDirectory(target, manifest, { checksums: true })).ok).toBe(true);
    }
    expect(readdirSync(stagingRoot(cache))).toEqual([]);
  });

  it('discard removes the staging directory and is idempotent', async () => {
    const s = await stageVersion(cache, Buffer.alloc(10));
    await s.discard();
    await s.discard();
    expect(existsSync(s.dir)).toBe(false);
    await expect(s.commit(versionDir(cache, 'm', 1))).rejects.toThrow(StagingClosedError);
  });

  it('refuses targets outside the cache or inside .staging, and bad file names', async () => {
    const s = await stageVersion(cache, Buffer.alloc(10));
    await expect(s.commit(path.join(cache, '..', 'elsewhere'))).rejects.toThrow(PathEscapeError);
    await expect(s.commit(cache)).rejects.toThrow(InvalidNameError);
    await expect(s.commit(path.join(stagingRoot(cache), 'x'))).rejects.toThrow(InvalidNameError);
    expect(() => s.file('../escape')).toThrow(InvalidNameError);
    expect(existsSync(s.dir)).toBe(true);
    await s.discard();
  });

  it('cleanStaging removes leftovers, keeping recently active ones when asked', async () => {
    const old = await stageVersion(cache, Buffer.alloc(10));
    const recent = await stageVersion(cache, Buffer.alloc(10));
    const past = new Date(Date.now() - 3_600_000);
    for (const p of [old.file('weights.onnx'), old.file('class_names.txt'), old.dir])
      await fs.utimes(p, past, past);
    await fs.mkdir(path.join(stagingRoot(cache), 'trash-00000000-0000-0000-0000-000000000000'));
    const removed = await cleanStaging(cache, { olderThanMs: 600_000 });
    expect(removed.sort()).toEqual(
      [path.basename(old.dir), 'trash-00000000-0000-0000-0000-000000000000'].sort(),
    );
    expect(readdirSync(stagingRoot(cache))).toEqual([path.basename(recent.dir)]);
    expect(await cleanStaging(cache)).toEqual([path.basename(recent.dir)]);
    expect(readdirSync(stagingRoot(cache))).toEqual([]);
    expect(await cleanStaging(path.join(cache, 'never-created'))).toEqual([]);
  });

  it('removeVersionDir moves the version away in one step, then deletes it', async () => {
    const target = versionDir(cache, 'resnet', 3);
    await (await stageVersion(cache, Buffer.alloc(10))).commit(target);
    const reader = await fs.open(path.join(target, 'weights.onnx'), 'r');
    expect(await removeVersionDir(cache, 'resnet', 3)).toBe(true);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(stagingRoot(cache))).toEqual([]);
    // A reader that opened a file before the removal still reads it in full.
    expect((await reader.readFile()).length).toBe(10);
    await reader.close();
    expect(await removeVersionDir(cache, 'resnet', 3)).toBe(false);
    await expect(removeVersionDir(cache, '../x', 3)).rejects.toThrow(InvalidNameError);
  });
});

describe('staging across processes', () => {
  let cache: string;
  let compiled: ReturnType<typeof compileForChildren>;
  beforeAll(() => {
    cache = makeTmpDir('staging-procs');
    compiled = compileForChildren();
  });
  afterAll(() => {
    killChildren();
    removeTmpDir(cache);
    removeTmpDir(compiled.dir);
  });

  it('two processes committing one version: exactly one wins, the result is complete', async () => {
    const size = 2 * 1024 * 1024;
    for (let v = 1; v <= 5; v++) {
      const children = [0, 1].map(() =>
        runChild(compiled.fixture('stage-and-commit'), [cache, 'yolo', String(v), String(size)]),
      );
      const exits = await Promise.all(children.map((c) => c.exited));
      expect(exits.map((e) => e.code)).toEqual([0, 0]);
      const results = children.map((c) => JSON.parse(c.lines[0]) as { alreadyPresent: boolean });
      expect(results.map((r) => r.alreadyPresent).sort()).toEqual([false, true]);
      const target = versionDir(cache, 'yolo', v);
      expect((await fs.stat(path.join(target, 'weights.onnx'))).size).toBe(size);
      expect(readFileSync(path.join(target, 'class_names.txt'), 'utf8')).toBe('cat\ndog\n');
    }
    expect(readdirSync(stagingRoot(cache))).toEqual([]);
  });
});
