import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from './errors';
import { fsyncDir, mkdirDurable } from './fs-util';

const TEMP_SUFFIX = '.strata-tmp';
const TEMP_RE = /^\..*\.[0-9a-f]{16}\.strata-tmp$/;

/** The temporary sibling a write goes through; its shape is what {@link removeTempFiles} matches. */
export function tempPathFor(target: string): string {
  // Cut the base so the temp name stays under the usual 255-byte limit.
  const base = path.basename(target).slice(0, 100);
  return path.join(
    path.dirname(target),
    `.${base}.${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`,
  );
}

export function isTempFileName(name: string): boolean {
  return TEMP_RE.test(name);
}

export interface WriteFileAtomicOptions {
  /** File mode of the new file (before umask). Default 0o644. */
  mode?: number;
  /** Create missing parent directories (durably). Default false. */
  createParents?: boolean;
}

/**
 * Replaces `target` with `data` so that readers, and the file after a crash at any instant,
 * see either the old content or the new content in full, never a mix: write a unique temp
 * file in the same directory, fsync it, rename it over the target, fsync the directory.
 * On any failure before the rename the temp file is removed and the old content is untouched.
 * A process killed mid-write can leave a temp file behind: {@link removeTempFiles} removes it.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = path.dirname(path.resolve(target));
  if (options.createParents) await mkdirDurable(dir);
  const tmp = tempPathFor(path.resolve(target));
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'wx', options.mode ?? 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

export interface RemoveTempFilesOptions {
  /**
   * Only remove temp files whose last modification is at least this old, so a write still in
   * progress in another process is left alone. Default 0 (remove all).
   */
  olderThanMs?: number;
}

/** Removes temp files left in `dir` by interrupted {@link writeFileAtomic} calls; returns their names. */
export async function removeTempFiles(
  dir: string,
  options: RemoveTempFilesOptions = {},
): Promise<string[]> {
  const olderThanMs = options.olderThanMs ?? 0;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names.filter(isTempFileName)) {
    const p = path.join(dir, name);
    try {
      const st = await fs.lstat(p);
      if (!st.isFile() || now - st.mtimeMs < olderThanMs) continue;
      await fs.unlink(p);
      removed.push(name);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
  if (removed.length > 0) await fsyncDir(dir);
  return removed;
}
