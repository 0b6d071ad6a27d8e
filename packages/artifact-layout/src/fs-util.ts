import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from './errors';

// Some file systems (and platforms) refuse fsync on a directory; the rename is still atomic
// there, only its durability across power loss is weaker, so those refusals are not errors.
const DIR_FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EBADF']);

/** fsyncs a directory so that entries created, renamed or removed in it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err;
  } finally {
    await fh?.close();
  }
}

/**
 * fsyncs every regular file and directory below `dir`, then `dir` itself. Siblings are synced
 * together (a journaling file system folds them into one commit); a directory only after its
 * entries.
 */
export async function fsyncTree(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map(async (e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await fsyncTree(p);
      else if (e.isFile()) {
        const fh = await fs.open(p, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }),
  );
  await fsyncDir(dir);
}

/** `mkdir -p`, then fsync the parents of every directory it created. */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // Directories from `first` down to `dir` are new: each needs its parent's entry flushed.
  let d = path.resolve(dir);
  const stop = path.dirname(path.resolve(first));
  while (d !== stop && d !== path.dirname(d)) {
    await fsyncDir(path.dirname(d));
    d = path.dirname(d);
  }
}

/** `rm -rf` that tolerates another process removing entries at the same time. */
export async function removeTree(p: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rm(p, { recursive: true, force: true, maxRetries: 3 });
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (attempt < 3 && (code === 'ENOENT' || code === 'ENOTEMPTY')) continue;
      throw err;
    }
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
