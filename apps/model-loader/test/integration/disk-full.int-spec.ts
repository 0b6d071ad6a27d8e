import { spawnSync } from 'node:child_process';
import { mkdtempSync, promises as fs, rmdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toModelLoaderError } from '../../src/artifacts/loader-errors';
import { listTree, startWorld, type World } from '../support/fixtures';
import { createHarness, type Harness } from '../support/harness';

// A real ENOSPC needs a small file system: a 2.5 MiB tmpfs. Mounting needs root (CAP_SYS_ADMIN);
// where that is refused the suite is skipped rather than faked.
const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'strata-loader-tmpfs-'));
const mounted =
  spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2560k', 'tmpfs', mountPoint], { stdio: 'ignore' })
    .status === 0;
if (!mounted) rmdirSync(mountPoint);

(mounted ? describe : describe.skip)('ENOSPC on a full disk (tmpfs)', () => {
  const MB = 1024 * 1024;
  let world: World;
  let h: Harness;

  beforeAll(async () => {
    world = await startWorld('enospc');
    // The cap is far above the disk: only the file system says no.
    h = createHarness(world, path.join(mountPoint, 'cache'), { maxBytes: 10 * 1024 ** 3 });
  });
  afterAll(async () => {
    await h?.close();
    await world?.close();
    spawnSync('umount', [mountPoint], { stdio: 'ignore' });
    await fs.rmdir(mountPoint).catch(() => undefined);
  });

  it('evicts least recently used versions and retries; with nothing evictable, DISK_FULL', async () => {
    const v: number[] = [];
    for (let i = 1; i <= 3; i++) v.push((await world.registerRandom('full', MB, i)).version);
    await h.cache.ensure({ model: 'full', version: v[0] });
    await h.cache.ensure({ model: 'full', version: v[1] });
    await h.cache.ensure({ model: 'full', version: v[2] });
    expect(await h.disk.isPresent('full', v[0])).toBe(false);
    expect(await h.disk.isPresent('full', v[1])).toBe(true);
    expect(await h.disk.isPresent('full', v[2])).toBe(true);
    expect(
      await h.metric('strata_artifact_evictions_total', { reason: 'disk_full' }),
    ).toBeGreaterThanOrEqual(1);

    for (const n of [v[1], v[2]])
      await h.leases.acquireLease(h.settings.domain, 'full', n, 'w1', 60_000);
    const err = toModelLoaderError(
      await h.cache.ensure({ model: 'full', version: v[0] }).catch((e: unknown) => e),
    );
    expect(err.code).toBe('DISK_FULL');
    expect(err.message).toMatch(/disk is full .*ENOSPC/);
    expect(err.message).toContain('held by worker w1');
    expect(await listTree(path.join(mountPoint, 'cache', '.staging'))).toEqual([]);
    expect(await h.disk.isPresent('full', v[1])).toBe(true);
  });
});
