import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { s3Keys, serializeManifest } from '@strata/artifact-layout';
import { RedisKeys } from '@strata/cache-keys';
import { ModelLoaderError, ReadyVersions } from '@strata/loader-client';
import { toModelLoaderError } from '../../src/artifacts/loader-errors';
import {
  digestsOf,
  listTree,
  S3_PREFIX,
  startOriginServer,
  startWorld,
  tempDir,
  type World,
} from '../support/fixtures';
import { waitFor } from '@strata/testing';
import { createHarness, type Harness } from '../support/harness';

/** What a job handler would send back: the typed loader error. */
async function failureOf(p: Promise<unknown>): Promise<ModelLoaderError> {
  try {
    await p;
  } catch (err) {
    return toModelLoaderError(err);
  }
  throw new Error('expected a failure');
}

describe('artifact cache (real s3rver, Postgres, Redis; the PaddleOCR classifier)', () => {
  let world: World;
  const harnesses: Harness[] = [];

  const harness = async (overrides: Parameters<typeof createHarness>[2] = {}) => {
    const h = createHarness(world, await tempDir('cache'), overrides);
    harnesses.push(h);
    return h;
  };

  beforeAll(async () => {
    world = await startWorld('cache-int');
  });
  afterAll(async () => {
    for (const h of harnesses) {
      await h.close();
      await fs.rm(h.settings.cacheDir, { recursive: true, force: true });
    }
    await world.close();
  });
  beforeEach(() => {
    world.proxy.reset();
    world.proxy.throttle(0);
  });

  it('push, then ensure: the files on disk are byte-identical to the source directory', async () => {
    const h = await harness();
    const pushed = await world.publish('cls-push');
    const first = await h.cache.ensure({ model: 'cls-push', version: pushed.version });
    expect(first).toEqual({
      path: path.join(h.settings.cacheDir, 'models', 'cls-push', String(pushed.version)),
      cached: false,
    });
    const onDisk = await digestsOf(first.path, ['manifest.json']);
    const source = await digestsOf(pushed.dir);
    expect(onDisk).toEqual(source);
    expect(Object.keys(onDisk)).toEqual(
      expect.arrayContaining(['weights.onnx', 'class_names.txt']),
    );
    // The manifest on disk is the one the registry's digest vouches for.
    expect(
      JSON.parse(await fs.readFile(path.join(first.path, 'manifest.json'), 'utf8')).files,
    ).toEqual(pushed.manifest.files);

    const second = await h.cache.ensure({ model: 'cls-push', version: String(pushed.version) });
    expect(second).toEqual({ path: first.path, cached: true });
    expect(world.proxy.count('GET', '/weights.onnx')).toBe(1);
    expect(await h.metric('strata_artifact_cache_hits_total')).toBe(1);
    expect(await h.metric('strata_artifact_cache_misses_total')).toBe(1);
    expect(await h.metric('strata_artifact_downloads_total', { source: 's3', outcome: 'ok' })).toBe(
      1,
    );
    expect(
      await h.metric('strata_artifact_download_bytes_total', { source: 's3' }),
    ).toBeGreaterThan(500_000);
    // The gauge follows the answer.
    await waitFor(
      async () => (await h.metric('strata_artifact_disk_used_bytes')) === pushed.sizeBytes,
      { what: 'the disk usage gauge' },
    );
    expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);
  });

  it('20 concurrent ensures of a cold version in one process: one download, one path', async () => {
    const h = await harness();
    const pushed = await world.publish('cls-concurrent');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        h.cache.ensure({ model: 'cls-concurrent', version: pushed.version }),
      ),
    );
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    expect(world.proxy.count('GET', `/cls-concurrent/${pushed.version}/weights.onnx`)).toBe(1);
    expect(world.proxy.count('GET', `/cls-concurrent/${pushed.version}/manifest.json`)).toBe(1);
  });

  it("reads S3 under the version's storagePrefix, not the loader's S3_PREFIX", async () => {
    // A loader configured with another prefix (S3_PREFIX changed after the publish).
    const h = await harness({ s3Prefix: 'elsewhere' });
    const pushed = await world.publish('cls-prefix');
    const got = await h.cache.ensure({ model: 'cls-prefix', version: pushed.version });
    expect(await digestsOf(got.path, ['manifest.json'])).toEqual(await digestsOf(pushed.dir));
    const under = `/${S3_PREFIX}/models/cls-prefix/${pushed.version}`;
    expect(world.proxy.count('GET', `${under}/weights.onnx`)).toBe(1);
    expect(world.proxy.count('GET', `${under}/manifest.json`)).toBe(1);
    expect(world.proxy.requests.filter((r) => r.includes('/elsewhere/'))).toEqual([]);
  });

  it('a manifest refused by its digest: the weights requested early are dropped, nothing kept', async () => {
    const h = await harness();
    const pushed = await world.publish('cls-baddigest');
    const keys = s3Keys(S3_PREFIX, 'cls-baddigest', pushed.version);
    await world.store.uploadBuffer(
      keys.manifest,
      Buffer.from(
        serializeManifest({
          ...pushed.manifest,
          files: pushed.manifest.files.map((f) => ({ ...f, sha256: '0'.repeat(64) })),
        }),
      ),
    );
    const err = await failureOf(
      h.cache.ensure({ model: 'cls-baddigest', version: pushed.version }),
    );
    expect(err.code).toBe('CHECKSUM');
    expect(err.message).toContain('manifest');
    expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);
    expect(await listTree(path.join(h.settings.cacheDir, 'models'))).toEqual([]);
  });

  it('a flipped byte in S3: CHECKSUM error naming model, version and file; nothing left; counted', async () => {
    const h = await harness();
    const pushed = await world.publish('cls-flipped');
    await world.flipByte('cls-flipped', pushed.version, 'weights.onnx');
    const err = await failureOf(h.cache.ensure({ model: 'cls-flipped', version: pushed.version }));
    expect(err.code).toBe('CHECKSUM');
    expect(err.message).toContain(`cls-flipped/${pushed.version}`);
    expect(err.message).toContain('weights.onnx');
    expect(err.message).toMatch(/sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(err.message).toContain('no HTTP origin');
    expect(await listTree(path.join(h.settings.cacheDir, 'models'))).toEqual([]);
    expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);
    expect(
      await h.metric('strata_artifact_verification_failures_total', { phase: 'download' }),
    ).toBe(1);
    expect(
      await h.metric('strata_artifact_downloads_total', { source: 's3', outcome: 'error' }),
    ).toBe(1);
  });

  it('a flipped byte in S3 with a valid origin URL: served from the origin', async () => {
    const h = await harness();
    const originDir = await tempDir('origin');
    const origin = await startOriginServer(originDir);
    try {
      const pushed = await world.publish('cls-origin', { originUrl: origin.url });
      for (const f of await fs.readdir(pushed.dir))
        await fs.copyFile(path.join(pushed.dir, f), path.join(originDir, f));
      await fs.writeFile(path.join(originDir, 'manifest.json'), serializeManifest(pushed.manifest));
      await world.flipByte('cls-origin', pushed.version, 'weights.onnx');

      const got = await h.cache.ensure({ model: 'cls-origin', version: pushed.version });
      expect(await digestsOf(got.path, ['manifest.json'])).toEqual(await digestsOf(pushed.dir));
      expect(origin.hits).toEqual(expect.arrayContaining(['manifest.json', 'weights.onnx']));
      expect(
        await h.metric('strata_artifact_downloads_total', { source: 'origin', outcome: 'ok' }),
      ).toBe(1);
      expect(
        await h.metric('strata_artifact_verification_failures_total', { phase: 'download' }),
      ).toBe(1);
      expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);
    } finally {
      await origin.close();
      await fs.rm(originDir, { recursive: true, force: true });
    }
  });

  it('S3 answering 500, then S3 missing the object: origin fallback, else SOURCE_UNAVAILABLE', async () => {
    const h = await harness();
    const originDir = await tempDir('origin5xx');
    const origin = await startOriginServer(originDir);
    try {
      const pushed = await world.publish('cls-5xx', { originUrl: origin.url });
      for (const f of await fs.readdir(pushed.dir))
        await fs.copyFile(path.join(pushed.dir, f), path.join(originDir, f));
      await fs.writeFile(path.join(originDir, 'manifest.json'), serializeManifest(pushed.manifest));
      world.proxy.fail(`/cls-5xx/${pushed.version}/weights.onnx`, 500);
      const got = await h.cache.ensure({ model: 'cls-5xx', version: pushed.version });
      expect(await digestsOf(got.path, ['manifest.json'])).toEqual(await digestsOf(pushed.dir));
    } finally {
      world.proxy.fail(`/weights.onnx`, null);
      await origin.close();
      await fs.rm(originDir, { recursive: true, force: true });
    }

    const lone = await world.publish('cls-nokey');
    await world.store.deleteObject(s3Keys(S3_PREFIX, 'cls-nokey', lone.version).weights);
    const err = await failureOf(h.cache.ensure({ model: 'cls-nokey', version: lone.version }));
    expect(err.code).toBe('SOURCE_UNAVAILABLE');
    expect(err.message).toContain(`cls-nokey/${lone.version}`);
    expect(err.message).toContain('weights.onnx');
    expect(err.message).toMatch(/no such key/i);
    expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);
  });

  it('an unknown, deleted or unready version is NOT_FOUND', async () => {
    const h = await harness();
    expect((await failureOf(h.cache.ensure({ model: 'never-published', version: 1 }))).code).toBe(
      'NOT_FOUND',
    );
    const pushed = await world.publish('cls-known');
    const err = await failureOf(
      h.cache.ensure({ model: 'cls-known', version: pushed.version + 5 }),
    );
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('cls-known');
    expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);
  });

  it.each([
    ['../etc', 1],
    ['a/b/c', 1],
    ['', 1],
    ['x'.repeat(300), 1],
    ['resnet', '../1'],
    ['resnet', -1],
  ])('refuses model %j version %j with INVALID_NAME and writes nothing', async (model, version) => {
    const h = await harness();
    const keysBefore = await h.redis.keys(`${world.redisPrefix}:*`);
    const err = await failureOf(h.cache.ensure({ model, version }));
    expect(err.code).toBe('INVALID_NAME');
    expect(err.message).toMatch(/^Invalid (model name|version)/);
    expect(await listTree(h.settings.cacheDir)).toEqual([]);
    expect(await h.redis.keys(`${world.redisPrefix}:*`)).toEqual(keysBefore);
    expect(world.proxy.requests).toEqual([]);
    expect((await failureOf(h.cache.evict({ model, version }))).code).toBe('INVALID_NAME');
  });

  describe('disk cap', () => {
    const MB = 1024 * 1024;

    it('three versions each over half the cap: LRU unheld evicted, held kept, then DISK_FULL', async () => {
      const h = await harness({ maxBytes: Math.floor(1.5 * MB) });
      const v = [];
      for (let i = 1; i <= 3; i++) v.push((await world.registerRandom('big-cap', MB, i)).version);

      await h.cache.ensure({ model: 'big-cap', version: v[0] });
      await h.cache.ensure({ model: 'big-cap', version: v[1] });
      expect(await listTree(path.join(h.settings.cacheDir, 'models'))).toEqual(
        expect.not.arrayContaining([`big-cap/${v[0]}/`]),
      );
      expect(await h.disk.isPresent('big-cap', v[1])).toBe(true);
      expect(await h.metric('strata_artifact_evictions_total', { reason: 'capacity' })).toBe(1);

      await h.leases.acquireLease(h.settings.domain, 'big-cap', v[1], 'worker-a', 60_000);
      const err = await failureOf(h.cache.ensure({ model: 'big-cap', version: v[2] }));
      expect(err.code).toBe('DISK_FULL');
      expect(err.message).toContain(`big-cap/${v[2]}`);
      expect(err.message).toContain(`big-cap/${v[1]} (held by worker worker-a)`);
      expect(await h.disk.isPresent('big-cap', v[1])).toBe(true);
      expect(await listTree(path.join(h.settings.cacheDir, '.staging'))).toEqual([]);

      await h.leases.releaseLease(h.settings.domain, 'big-cap', v[1], 'worker-a');
      await h.cache.ensure({ model: 'big-cap', version: v[2] });
      expect(await h.disk.isPresent('big-cap', v[1])).toBe(false);
      await waitFor(async () => (await h.metric('strata_artifact_disk_used_bytes')) === MB, {
        what: 'the disk usage gauge',
      });
      expect(await h.metric('strata_artifact_disk_cap_bytes')).toBe(Math.floor(1.5 * MB));
    });

    it('evicts the least recently used of several, never the held one', async () => {
      const h = await harness({ maxBytes: Math.floor(2.5 * MB) });
      const [a, b, c, d] = [1, 2, 3, 4];
      for (const n of [a, b, c, d]) await world.registerRandom('lru', MB, n);
      await h.cache.ensure({ model: 'lru', version: a });
      await h.cache.ensure({ model: 'lru', version: b });
      await h.cache.ensure({ model: 'lru', version: a }); // a is now more recent than b
      await h.cache.ensure({ model: 'lru', version: c });
      expect([await h.disk.isPresent('lru', a), await h.disk.isPresent('lru', b)]).toEqual([
        true,
        false,
      ]);
      // a was used before c, so a would go next, but a worker holds it: c goes instead.
      await h.leases.acquireLease(h.settings.domain, 'lru', a, 'worker-b', 60_000);
      await h.cache.ensure({ model: 'lru', version: d });
      expect([await h.disk.isPresent('lru', a), await h.disk.isPresent('lru', c)]).toEqual([
        true,
        false,
      ]);
      expect(await h.disk.isPresent('lru', d)).toBe(true);
    });

    it('a version larger than the whole cap is refused at once', async () => {
      const h = await harness({ maxBytes: MB });
      const { version } = await world.registerRandom('too-big', 2 * MB);
      const err = await failureOf(h.cache.ensure({ model: 'too-big', version }));
      expect(err.code).toBe('DISK_FULL');
      expect(err.message).toMatch(/MODEL_DISK_CACHE_MAX_BYTES/);
      expect(world.proxy.count('GET', '/weights.onnx')).toBe(0);
    });
  });

  describe('ready list (what a lease holder may read without the queue)', () => {
    it('lists a verified version, clears and rebuilds the list at startup, unlists before evicting, re-lists on a hit', async () => {
      const domain = 'ready-list';
      const h = await harness({ domain });
      const readyKey = new RedisKeys(world.redisPrefix).diskReady(domain);
      const list = new ReadyVersions(h.redis, world.redisPrefix);
      const pushed = await world.publish('ready-cls');
      const ref = { model: 'ready-cls', version: pushed.version };
      const member = `ready-cls/${pushed.version}`;
      const lookup = () => list.lookupLeased(domain, ref.model, ref.version, 'w1');

      const first = await h.cache.ensure(ref);
      expect(await h.redis.hget(readyKey, member)).toBe(first.path);
      expect(await lookup()).toBeNull(); // no lease yet
      await h.leases.acquireLease(domain, ref.model, ref.version, 'w1', 60_000);
      expect(await lookup()).toBe(first.path);

      // A stale entry of a version that is no longer on disk is dropped by the startup check.
      await h.redis.hset(readyKey, 'ready-cls/999', '/nowhere');
      await h.reconcile();
      expect(await h.redis.hgetall(readyKey)).toEqual({ [member]: first.path });

      // Held: kept and listed. Released: unlisted, then removed.
      expect(await h.cache.evict(ref)).toEqual({ evicted: false });
      expect(await lookup()).toBe(first.path);
      await h.leases.releaseLease(domain, ref.model, ref.version, 'w1');
      expect(await h.cache.evict(ref)).toEqual({ evicted: true });
      expect(await h.redis.hexists(readyKey, member)).toBe(0);
      await h.leases.acquireLease(domain, ref.model, ref.version, 'w1', 60_000);
      expect(await lookup()).toBeNull();

      // Downloaded again, the list lost (Redis flushed): the loader's next hit lists it again.
      await h.cache.ensure(ref);
      await h.redis.del(readyKey);
      expect(await h.cache.ensure(ref)).toEqual({ path: first.path, cached: true });
      expect(await lookup()).toBe(first.path);
    });
  });

  describe('evict and clear', () => {
    it('evict removes an unheld version, keeps a held one; DISK_CACHE_CLEANUP=false keeps files', async () => {
      const h = await harness();
      const pushed = await world.publish('cls-evict');
      const ref = { model: 'cls-evict', version: pushed.version };
      await h.cache.ensure(ref);
      await h.leases.acquireLease(h.settings.domain, ref.model, ref.version, 'w1', 60_000);
      expect(await h.cache.evict(ref)).toEqual({ evicted: false });
      await h.leases.releaseLease(h.settings.domain, ref.model, ref.version, 'w1');
      expect(await h.cache.evict(ref)).toEqual({ evicted: true });
      expect(await h.disk.isPresent(ref.model, ref.version)).toBe(false);
      expect(await h.metric('strata_artifact_evictions_total', { reason: 'unload' })).toBe(1);

      const keep = await harness({ cleanup: false });
      await keep.cache.ensure(ref);
      expect(await keep.cache.evict(ref)).toEqual({ evicted: false });
      expect(await keep.disk.isPresent(ref.model, ref.version)).toBe(true);
    });

    it('clear removes one model or all, skipping held versions', async () => {
      const h = await harness();
      const one = await world.publish('clear-one');
      const two = await world.publish('clear-two');
      await h.cache.ensure({ model: 'clear-one', version: one.version });
      await h.cache.ensure({ model: 'clear-two', version: two.version });
      expect(await h.cache.clear({ model: 'clear-one' })).toEqual({ removed: 1 });
      expect(await h.disk.isPresent('clear-two', two.version)).toBe(true);
      await h.cache.ensure({ model: 'clear-one', version: one.version });
      await h.leases.acquireLease(h.settings.domain, 'clear-two', two.version, 'w9', 60_000);
      expect(await h.cache.clear({})).toEqual({ removed: 1 });
      expect(await h.disk.isPresent('clear-two', two.version)).toBe(true);
      expect(await h.disk.isPresent('clear-one', one.version)).toBe(false);
      expect((await failureOf(h.cache.clear({ model: '../x' }))).code).toBe('INVALID_NAME');
    });
  });
});
