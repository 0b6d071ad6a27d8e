import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, InvalidNameError, StagingClosedError } from './errors';
import { fsyncDir, fsyncTree, mkdirDurable, removeTree } from './fs-util';
import { assertInside, stagingRoot, validateArtifactFileName, versionDir } from './layout';

const TRASH_PREFIX = 'trash-';

export interface CommitResult {
  /** The final directory. */
  path: string;
  /**
   * True when the target already existed (another process committed first): this staging
   * directory was discarded and the existing one left untouched.
   */
  alreadyPresent: boolean;
}

export interface Staging {
  /** `{cacheDir}/.staging/<uuid>`: fill it, then commit or discard. */
  readonly dir: string;
  /** Path of a file inside the staging directory (the name is validated). */
  file(name: string): string;
  /**
   * fsyncs every file and the directory, creates the target's parent, and renames the staging
   * directory to `targetDir` in one step, so readers see the whole version or nothing.
   * `targetDir` must be inside the cache directory.
   */
  commit(targetDir: string): Promise<CommitResult>;
  /** Removes the staging directory. Idempotent; a no-op after commit. */
  discard(): Promise<void>;
}

/** Creates `{cacheDir}/.staging/<uuid>/` (and `.staging` itself if needed). */
export async function createStaging(cacheDir: string): Promise<Staging> {
  const root = stagingRoot(cacheDir);
  const cache = path.dirname(root);
  await mkdirDurable(root);
  const dir = assertInside(root, path.join(root, randomUUID()));
  await fs.mkdir(dir, { mode: 0o755 });
  let state: 'open' | 'committed' | 'discarded' = 'open';

  return {
    dir,
    file(name: string) {
      return assertInside(dir, path.join(dir, validateArtifactFileName(name)));
    },
    async commit(targetDir: string): Promise<CommitResult> {
      if (state !== 'open') throw new StagingClosedError(dir, state);
      const target = assertInside(cache, targetDir);
      if (target === cache || target === root || assertInsideSafe(root, target))
        throw new InvalidNameError(
          'commit target',
          targetDir,
          'is the cache directory or inside .staging',
          'a directory inside the cache directory, outside .staging',
        );
      const parent = path.dirname(target);
      // Both before the rename, independent of each other.
      await Promise.all([fsyncTree(dir), mkdirDurable(parent)]);
      try {
        await fs.rename(dir, target);
      } catch (err) {
        const code = errnoCode(err);
        // Linux says ENOTEMPTY, some systems EEXIST: either way someone else's copy is there.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          state = 'discarded';
          await removeTree(dir);
          return { path: target, alreadyPresent: true };
        }
        throw err;
      }
      state = 'committed';
      await Promise.all([fsyncDir(parent), fsyncDir(root)]);
      return { path: target, alreadyPresent: false };
    },
    async discard(): Promise<void> {
      if (state !== 'open') return;
      state = 'discarded';
      await removeTree(dir);
    },
  };
}

function assertInsideSafe(root: string, target: string): boolean {
  try {
    assertInside(root, target);
    return true;
  } catch {
    return false;
  }
}

export interface CleanStagingOptions {
  /**
   * Keep staging directories with activity (newest mtime of anything inside) more recent than
   * this, so a download still running in another process that shares the disk is not pulled
   * from under it. Default 0: remove everything (only safe when no other process stages).
   * Trash directories are always removed.
   */
  olderThanMs?: number;
}

async function newestMtime(p: string): Promise<number> {
  let newest = 0;
  try {
    const st = await fs.lstat(p);
    newest = st.mtimeMs;
    if (st.isDirectory())
      for (const name of await fs.readdir(p))
        newest = Math.max(newest, await newestMtime(path.join(p, name)));
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  return newest;
}

/**
 * Startup reconciliation: removes leftover staging and trash directories under
 * `{cacheDir}/.staging` (and anything else found there). Returns the names removed.
 */
export async function cleanStaging(
  cacheDir: string,
  options: CleanStagingOptions = {},
): Promise<string[]> {
  const root = stagingRoot(cacheDir);
  const olderThanMs = options.olderThanMs ?? 0;
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    const p = assertInside(root, path.join(root, name));
    const isTrash = name.startsWith(TRASH_PREFIX);
    if (!isTrash && olderThanMs > 0 && now - (await newestMtime(p)) < olderThanMs) continue;
    await removeTree(p);
    removed.push(name);
  }
  return removed;
}

/**
 * Removes a model version from the cache so that readers never see it half deleted: the
 * directory is first renamed into `.staging/trash-<uuid>` (atomic), then removed there.
 * Returns false when the version was not on disk.
 */
export async function removeVersionDir(
  cacheDir: string,
  model: string,
  version: number | string,
): Promise<boolean> {
  return removeDirViaTrash(cacheDir, versionDir(cacheDir, model, version));
}

/** Like {@link removeVersionDir} for any directory inside the cache (outside `.staging`). */
export async function removeDirViaTrash(cacheDir: string, dir: string): Promise<boolean> {
  const root = stagingRoot(cacheDir);
  const target = assertInside(path.dirname(root), dir);
  if (target === path.dirname(root) || assertInsideSafe(root, target))
    throw new InvalidNameError(
      'directory to remove',
      dir,
      'is the cache directory or inside .staging',
      'a directory inside the cache directory, outside .staging',
    );
  await mkdirDurable(root);
  const trash = path.join(root, `${TRASH_PREFIX}${randomUUID()}`);
  try {
    await fs.rename(target, trash);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(path.dirname(target));
  await removeTree(trash);
  return true;
}
