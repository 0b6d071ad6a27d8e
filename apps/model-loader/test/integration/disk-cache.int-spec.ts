import { promises as fs } from 'node:fs';
import {
  acquireFileLock,
  domainLockPath,
  LockTimeoutError,
  readFileLock,
} from '@strata/artifact-layout';
import { waitFor } from '@strata/testing';
import { DiskCacheRepository } from '../../src/artifacts/disk-cache.repository';
import type { LoaderSettings } from '../../src/loader.settings';
import { startWorld, tempDir, type World } from '../support/fixtures';
import { createHarness, type Harness } from '../support/harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the domain lock (real lock file)', () => {
  let dir: string;
  let disk: DiskCacheRepository;
  beforeEach(async () => {
    dir = await tempDir('domain-lock');
    disk = new DiskCacheRepository({ cacheDir: dir } as LoaderSettings);
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('callers in one process never overlap, each gets its own outcome, and the file goes', async () => {
    const events: string[] = [];
    const section =
      (name: string, fail = false) =>
      async () => {
        events.push(`${name} in`);
        // The file is held while the section runs.
        expect(await readFileLock(domainLockPath(dir))).not.toBeNull();
        await sleep(20);
        events.push(`${name} out`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const outcomes = await Promise.allSettled([
      disk.withDomainLock(section('a')),
      disk.withDomainLock(section('b', true)),
      disk.withDomainLock(section('c')),
    ]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : String(o.reason)))).toEqual([
      'a',
      'Error: b failed',
      'c',
    ]);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    // The answer comes before the release; the release follows at once.
    await waitFor(async () => (await readFileLock(domainLockPath(dir))) === null, {
      timeoutMs: 5000,
      what: 'the domain lock file removed',
    });
  });

  it('a lock held elsewhere: the caller gets the timeout, its section never runs, later callers still do', async () => {
    const other = await acquireFileLock(domainLockPath(dir));
    let ran = false;
    const err = await disk
      .withDomainLock(async () => {
        ran = true;
      }, 200)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(ran).toBe(false);
    await other.release();
    await expect(disk.withDomainLock(async () => 'next')).resolves.toBe('next');
  });
});

describe('the disk usage gauge (real s3rver, Postgres, Redis)', () => {
  const MB = 1024 * 1024;
  let world: World;
  let h: Harness;
  let cacheDir: string;
  beforeAll(async () => {
    world = await startWorld('gauge');
    cacheDir = await tempDir('gauge');
    h = createHarness(world, cacheDir);
  });
  afterAll(async () => {
    await h?.close();
    await world?.close();
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('the listing started last sets it, even when an older one finishes later', async () => {
    const a = await world.registerRandom('gauge', MB);
    const b = await world.registerRandom('gauge', 2 * MB);
    await h.cache.ensure({ model: 'gauge', version: a.version });
    await h.cache.ensure({ model: 'gauge', version: b.version });
    await waitFor(async () => (await h.metric('strata_artifact_disk_used_bytes')) >= 3 * MB, {
      what: 'both versions counted',
    });

    // The first listing sees both versions, then is held back until a newer one has finished.
    const realList = h.disk.listVersions.bind(h.disk);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const spy = jest.spyOn(h.disk, 'listVersions').mockImplementation(async (model) => {
      const listed = await realList(model);
      if (++calls === 1) await held;
      return listed;
    });
    try {
      const older = h.eviction.refreshUsage();
      await waitFor(() => calls === 1, { what: 'the first listing done' });
      expect(await h.disk.removeVersion('gauge', b.version)).toBe(true);
      const newer = await h.eviction.refreshUsage();
      expect(await h.metric('strata_artifact_disk_used_bytes')).toBe(newer);
      release();
      expect(await older).toBeGreaterThan(newer);
      // The stale count of the older listing did not overwrite the newer one.
      expect(await h.metric('strata_artifact_disk_used_bytes')).toBe(newer);
    } finally {
      release();
      spy.mockRestore();
    }
  });
});
