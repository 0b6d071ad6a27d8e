import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';

export type CacheDirAccess = 'read-write' | 'read';

/** Checks that MODEL_CACHE_DIR is a directory this process may use the way it needs to. */
export async function checkCacheDir(dir: string, mode: CacheDirAccess): Promise<void> {
  const s = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `${dir} does not exist` : `${dir}: ${err.message}`);
  });
  if (!s.isDirectory()) throw new Error(`${dir} is not a directory`);
  const want =
    mode === 'read-write'
      ? constants.R_OK | constants.W_OK | constants.X_OK
      : constants.R_OK | constants.X_OK;
  await access(dir, want).catch(() => {
    throw new Error(`${dir} is not ${mode === 'read-write' ? 'writable' : 'readable'}`);
  });
}
