import { checkCacheDir } from '@strata/service-kit';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

describe('checkCacheDir', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'strata-cache-'));
  });
  afterEach(async () => {
    await chmod(dir, 0o700);
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a usable directory', async () => {
    await expect(checkCacheDir(dir, 'read-write')).resolves.toBeUndefined();
    await expect(checkCacheDir(dir, 'read')).resolves.toBeUndefined();
  });

  it('reports a missing directory', async () => {
    await expect(checkCacheDir(path.join(dir, 'nope'), 'read')).rejects.toThrow(/does not exist/);
  });

  it('reports a file in place of the directory', async () => {
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    await expect(checkCacheDir(file, 'read')).rejects.toThrow(/not a directory/);
  });

  const root = process.getuid?.() === 0;
  (root ? it.skip : it)('reports a read-only directory to a writer', async () => {
    await chmod(dir, 0o500);
    await expect(checkCacheDir(dir, 'read-write')).rejects.toThrow(/not writable/);
    await expect(checkCacheDir(dir, 'read')).resolves.toBeUndefined();
  });
});
