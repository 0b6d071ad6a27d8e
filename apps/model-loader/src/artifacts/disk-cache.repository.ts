import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  acquireFileLock,
  ARTIFACT_FILES,
  assertInside,
  createStaging,
  diskPaths,
  domainLockPath,
  isSafeName,
  modelDir,
  modelsRoot,
  parseManifest,
  removeVersionDir,
  stagingRoot,
  validateVersion,
  versionDir,
  type FileLock,
  type Manifest,
  type Staging,
} from '@strata/artifact-layout';
import { STRATA_LOGGER } from '@strata/service-kit';
import type { Logger } from 'pino';
import { LOADER_SETTINGS, type LoaderSettings } from '../loader.settings';
import { errnoCode, messageOf } from './loader-errors';

/**
 * Written into each staging directory while a download fills it, so startup reconciliation (of
 * this or another loader sharing the disk) can tell a live download from a dead one, and so
 * every loader counts the space a running download has reserved. Its name cannot be an artifact
 * file name (those never start with '.'); it is removed before the commit.
 */
export const STAGING_MARKER = '.strata-staging.json';

export interface StagingMarker {
  model: string;
  version: number;
  /** Bytes reserved: the sum of the manifest's file sizes. */
  bytes: number;
  host: string;
  pid: number;
  /** Random per loader process: tells a restarted loader that reused a pid from its predecessor. */
  instance: string;
  /** Redis key and token of the download lock held while filling this directory. */
  lockKey: string;
  lockToken: string;
  createdAt: string;
}

export interface StagingEntry {
  name: string;
  dir: string;
  /** Undefined when there is none (or it cannot be read). */
  marker: StagingMarker | undefined;
  /** Newest modification time inside (ms). */
  activityMs: number;
}

export interface CachedVersion {
  model: string;
  version: number;
  dir: string;
  /** Sum of the file sizes in its manifest; undefined when the manifest is unreadable. */
  bytes: number | undefined;
  manifest: Manifest | undefined;
  /** When the directory was committed (its mtime). */
  mtimeMs: number;
}

export interface ReservedStaging {
  readonly dir: string;
  file(name: string): string;
  /** Where manifest.json goes (not an artifact file name, so `file()` refuses it). */
  readonly manifestPath: string;
  /** Removes every downloaded file, keeping the reservation (before trying another source). */
  reset(): Promise<void>;
  /** Drops the marker, fsyncs and renames into place. */
  commit(model: string, version: number): Promise<{ path: string; alreadyPresent: boolean }>;
  discard(): Promise<void>;
}

const INSTANCE = randomUUID();
const HOST = hostname();

/** The disk side of the cache: versions, staging directories, the domain lock. */
@Injectable()
export class DiskCacheRepository {
  private domainQueue: Promise<void> = Promise.resolve();

  constructor(
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
    @Optional() @Inject(STRATA_LOGGER) private readonly logger?: Logger,
  ) {}

  get cacheDir(): string {
    return this.settings.cacheDir;
  }

  versionPath(model: string, version: number): string {
    return versionDir(this.cacheDir, model, version);
  }

  /** A committed version: its directory holds manifest.json (commits are atomic renames). */
  async isPresent(model: string, version: number): Promise<boolean> {
    try {
      return (await fs.stat(diskPaths(this.cacheDir, model, version).manifest)).isFile();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
      throw err;
    }
  }

  async readManifest(model: string, version: number): Promise<Manifest | undefined> {
    try {
      const text = await fs.readFile(diskPaths(this.cacheDir, model, version).manifest, 'utf8');
      return parseManifest(text, { expect: { model, version } });
    } catch {
      return undefined;
    }
  }

  /** Every version directory under `models/` whose names are valid, with its manifest if readable. */
  async listVersions(model?: string): Promise<CachedVersion[]> {
    const root = modelsRoot(this.cacheDir);
    const models = model === undefined ? await readdirSafe(root) : [model];
    const out: CachedVersion[] = [];
    for (const m of models) {
      if (!isSafeName(m)) continue;
      const mdir = modelDir(this.cacheDir, m);
      for (const v of await readdirSafe(mdir)) {
        let version: number;
        try {
          version = validateVersion(v);
        } catch {
          continue;
        }
        const dir = versionDir(this.cacheDir, m, version);
        let st;
        try {
          st = await fs.stat(dir);
        } catch {
          continue;
        }
        if (!st.isDirectory()) continue;
        const manifest = await this.readManifest(m, version);
        out.push({
          model: m,
          version,
          dir,
          manifest,
          bytes: manifest ? manifest.files.reduce((n, f) => n + f.size, 0) : undefined,
          mtimeMs: st.mtimeMs,
        });
      }
    }
    return out;
  }

  /** Removes a version atomically (rename into trash, then delete). False if it was not there. */
  async removeVersion(model: string, version: number): Promise<boolean> {
    const removed = await removeVersionDir(this.cacheDir, model, version);
    // An emptied model directory is noise in listings; another commit may race to reuse it.
    await fs.rmdir(modelDir(this.cacheDir, model)).catch(() => undefined);
    return removed;
  }

  /** A staging directory holding a reservation marker for `bytes` of `model/version`. */
  async createStaging(
    marker: Omit<StagingMarker, 'host' | 'pid' | 'instance' | 'createdAt'>,
  ): Promise<ReservedStaging> {
    const staging: Staging = await createStaging(this.cacheDir);
    const markerPath = path.join(staging.dir, STAGING_MARKER);
    const full: StagingMarker = {
      ...marker,
      host: HOST,
      pid: process.pid,
      instance: INSTANCE,
      createdAt: new Date().toISOString(),
    };
    try {
      await fs.writeFile(markerPath, JSON.stringify(full));
    } catch (err) {
      await staging.discard();
      throw err;
    }
    const manifestPath = assertInside(staging.dir, path.join(staging.dir, ARTIFACT_FILES.manifest));
    return {
      dir: staging.dir,
      file: (name) => staging.file(name),
      manifestPath,
      async reset() {
        for (const name of await fs.readdir(staging.dir))
          if (name !== STAGING_MARKER)
            await fs.rm(path.join(staging.dir, name), { recursive: true, force: true });
      },
      commit: async (model, version) => {
        await fs.rm(markerPath, { force: true });
        return staging.commit(versionDir(this.cacheDir, model, version));
      },
      discard: () => staging.discard(),
    };
  }

  /** The directories under `.staging/` (trash directories have no marker). */
  async listStaging(): Promise<StagingEntry[]> {
    const root = stagingRoot(this.cacheDir);
    const out: StagingEntry[] = [];
    for (const name of await readdirSafe(root)) {
      const dir = assertInside(root, path.join(root, name));
      let marker: StagingMarker | undefined;
      try {
        marker = JSON.parse(await fs.readFile(path.join(dir, STAGING_MARKER), 'utf8'));
      } catch {
        marker = undefined;
      }
      out.push({ name, dir, marker, activityMs: await newestMtime(dir) });
    }
    return out;
  }

  async removeStaging(entry: StagingEntry): Promise<void> {
    await fs.rm(entry.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** Whether a staging marker was written by a process on this host that no longer runs. */
  isDeadLocalWriter(marker: StagingMarker): boolean {
    if (marker.host !== HOST) return false;
    if (marker.pid === process.pid) return marker.instance !== INSTANCE;
    try {
      process.kill(marker.pid, 0);
      return false;
    } catch (err) {
      return errnoCode(err) === 'ESRCH';
    }
  }

  /**
   * Runs `fn` holding the cache-wide lock shared by every loader on this disk (space
   * reservations, eviction, startup reconciliation). In-process callers queue first, so only
   * one of them polls the lock file.
   */
  withDomainLock<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
    let settle!: { resolve: (value: T) => void; reject: (err: unknown) => void };
    const result = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
    const run = async () => {
      let lock: FileLock;
      try {
        lock = await acquireFileLock(domainLockPath(this.cacheDir), { timeoutMs });
      } catch (err) {
        settle.reject(err);
        return;
      }
      try {
        settle.resolve(await fn());
      } catch (err) {
        settle.reject(err);
      }
      // The caller goes on while the lock file is removed (1-5 ms on a busy loader, on the path
      // of every cold ensure); the next caller in this process waits for it, others poll. A
      // failed release is logged: the caller has its answer, and the file, no longer refreshed
      // by a live holder, is taken over as stale.
      await lock.release().catch((err: unknown) => {
        this.logger?.warn({ err }, `releasing the disk cache lock: ${messageOf(err)}`);
      });
    };
    this.domainQueue = this.domainQueue.then(run);
    return result;
  }
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

async function newestMtime(p: string): Promise<number> {
  try {
    const st = await fs.lstat(p);
    let newest = st.mtimeMs;
    if (st.isDirectory())
      for (const name of await readdirSafe(p))
        newest = Math.max(newest, await newestMtime(path.join(p, name)));
    return newest;
  } catch {
    return 0;
  }
}
