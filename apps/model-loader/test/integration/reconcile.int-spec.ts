import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { RedisKeys } from '@strata/cache-keys';
import { STAGING_MARKER, type StagingMarker } from '../../src/artifacts/disk-cache.repository';
import { listTree, startWorld, tempDir, type World } from '../support/fixtures';
import { createHarness, type Harness } from '../support/harness';

describe('startup reconciliation (real disk, Redis, s3rver, Postgres)', () => {
  let world: World;
  const harnesses: Harness[] = [];
  const harness = async (
    cacheDir: string,
    overrides: Parameters<typeof createHarness>[2] = {},
    deferStartup = true,
  ) => {
    const h = createHarness(world, cacheDir, overrides, { deferStartup });
    harnesses.push(h);
    return h;
  };

  beforeAll(async () => {
    world = await startWorld('reconcile');
  });
  afterAll(async () => {
    for (const h of harnesses) {
      await h.close();
      await fs.rm(h.settings.cacheDir, { recursive: true, force: true });
    }
    await world.close();
  });

  async function staging(cacheDir: string, name: string, marker?: Partial<StagingMarker>) {
    const dir = path.join(cacheDir, '.staging', name);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'weights.onnx'), 'partial');
    if (marker)
      await fs.writeFile(
        path.join(dir, STAGING_MARKER),
        JSON.stringify({
          model: 'm',
          version: 1,
          bytes: 100,
          host: hostname(),
          pid: process.pid,
          instance: 'other',
          lockKey: 'none',
          lockToken: 'none',
          createdAt: new Date().toISOString(),
          ...marker,
        }),
      );
  }

  it('removes staging left by dead downloads and keeps those of live ones', async () => {
    const cacheDir = await tempDir('rec-staging');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid as number;
    const keys = new RedisKeys(world.redisPrefix);
    const liveKey = keys.artifactLock('harness', 'live', 1);
    const liveToken = randomUUID();
    await staging(cacheDir, 'dead-local', { host: hostname(), pid: deadPid });
    await staging(cacheDir, 'no-marker');
    await staging(cacheDir, 'trash-1234');
    await staging(cacheDir, 'remote-expired', {
      host: 'elsewhere',
      pid: 1,
      lockKey: keys.artifactLock('harness', 'gone', 1),
    });
    await staging(cacheDir, 'remote-live', {
      host: 'elsewhere',
      pid: 1,
      lockKey: liveKey,
      lockToken: liveToken,
    });
    const h = await harness(cacheDir);
    await h.redis.set(liveKey, liveToken, 'PX', 60_000);
    await h.reconcile();
    expect(await fs.readdir(path.join(cacheDir, '.staging'))).toEqual(['remote-live']);
  });

  it('drops corrupt versions (size always, sha256 with VERIFY_ON_START) and rebuilds the LRU index', async () => {
    const cacheDir = await tempDir('rec-versions');
    const setup = await harness(cacheDir, {}, false);
    const a = await world.publish('rec-a');
    const b = await world.publish('rec-b');
    const c = await world.publish('rec-c');
    const d = await world.publish('rec-d');
    for (const [m, v] of [
      ['rec-a', a],
      ['rec-b', b],
      ['rec-c', c],
      ['rec-d', d],
    ] as const)
      await setup.cache.ensure({ model: m, version: v.version });
    const dirOf = (m: string, v: number) => path.join(cacheDir, 'models', m, String(v));
    // b: truncated (size), c: one byte flipped (same size), d: manifest gone.
    await fs.truncate(path.join(dirOf('rec-b', b.version), 'weights.onnx'), 100);
    const cw = path.join(dirOf('rec-c', c.version), 'weights.onnx');
    const bytes = await fs.readFile(cw);
    bytes[500] ^= 0xff;
    await fs.writeFile(cw, bytes);
    await fs.rm(path.join(dirOf('rec-d', d.version), 'manifest.json'));
    const lruKey = new RedisKeys(world.redisPrefix).diskLru('harness');
    await setup.redis.del(lruKey);
    await setup.redis.zadd(lruKey, 1, 'ghost/9');

    const sizesOnly = await harness(cacheDir);
    await sizesOnly.reconcile();
    expect(await listTree(path.join(cacheDir, 'models'))).toEqual([
      'rec-a/',
      `rec-a/${a.version}/`,
      `rec-a/${a.version}/class_names.txt`,
      `rec-a/${a.version}/manifest.json`,
      `rec-a/${a.version}/model_type.json`,
      `rec-a/${a.version}/weights.onnx`,
      'rec-c/',
      `rec-c/${c.version}/`,
      `rec-c/${c.version}/class_names.txt`,
      `rec-c/${c.version}/manifest.json`,
      `rec-c/${c.version}/model_type.json`,
      `rec-c/${c.version}/weights.onnx`,
    ]);
    expect(
      await sizesOnly.metric('strata_artifact_verification_failures_total', { phase: 'startup' }),
    ).toBe(2);
    expect(await sizesOnly.metric('strata_artifact_evictions_total', { reason: 'corrupt' })).toBe(
      2,
    );
    expect((await setup.redis.zrange(lruKey, 0, -1)).sort()).toEqual([
      `rec-a/${a.version}`,
      `rec-c/${c.version}`,
    ]);

    const hashing = await harness(cacheDir, { verifyOnStart: true });
    await hashing.reconcile();
    expect(await fs.readdir(path.join(cacheDir, 'models'))).toEqual(['rec-a']);
    expect(
      await hashing.metric('strata_artifact_verification_failures_total', { phase: 'startup' }),
    ).toBe(1);
    // The dropped version downloads again on the next ensure.
    const again = await hashing.cache.ensure({ model: 'rec-c', version: c.version });
    expect(again.cached).toBe(false);
  });

  it('fetches PINNED_MODELS before it reports ready, and never evicts them for space', async () => {
    const cacheDir = await tempDir('rec-pinned');
    const pinned = await world.registerRandom('pinned', 1024 * 1024);
    const other = await world.registerRandom('unpinned', 1024 * 1024);
    const h = await harness(cacheDir, {
      pinned: [{ model: 'pinned', version: pinned.version }],
      maxBytes: Math.floor(1.5 * 1024 * 1024),
    });
    const before = await h.readiness.evaluate();
    expect(before.ok).toBe(false);
    expect(before.checks['artifact-cache']).toMatch(/reconciling|PINNED_MODELS/);
    await h.reconcile();
    expect((await h.readiness.evaluate()).ok).toBe(true);
    expect(await h.disk.isPresent('pinned', pinned.version)).toBe(true);

    const err = await h.cache
      .ensure({ model: 'unpinned', version: other.version })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`pinned/${pinned.version} (pinned)`);
    expect(await h.disk.isPresent('pinned', pinned.version)).toBe(true);
  });
});
