import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ModelLeases, ModelLoaderClient, ModelLoaderError } from '@strata/loader-client';
import {
  serviceEnv,
  spawnService,
  testRedisClient,
  type RedisClient,
  waitFor,
  httpGet,
  type SpawnedService,
} from '@strata/testing';
import {
  BUCKET,
  digestsOf,
  listTree,
  S3_PREFIX,
  sha256File,
  startWorld,
  tempDir,
  type World,
} from '../support/fixtures';

/** The value of a counter in a /metrics text (0 when absent). */
function metricValue(text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(labels) && !l.startsWith('#'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('model-loader processes (real Redis, Postgres, s3rver behind a counting proxy)', () => {
  let world: World;
  const loaders: SpawnedService[] = [];
  const clients: ModelLoaderClient[] = [];
  const connections: RedisClient[] = [];
  const dirs: string[] = [];

  async function loaderEnv(domain: string, cacheDir: string, extra: Record<string, string> = {}) {
    return serviceEnv({
      DATABASE_URL: world.db.url,
      REDIS_KEY_PREFIX: world.redisPrefix,
      S3_ENDPOINT: world.proxy.endpoint,
      S3_BUCKET: BUCKET,
      S3_PREFIX,
      CACHE_DOMAIN: domain,
      MODEL_CACHE_DIR: cacheDir,
      ARTIFACT_DOWNLOAD_LOCK_TTL: '3',
      LOADER_CONCURRENCY: '8',
      LOG_LEVEL: 'warn',
      ...extra,
    });
  }

  function start(env: Record<string, string>): SpawnedService {
    const svc = spawnService('model-loader', env);
    loaders.push(svc);
    return svc;
  }

  function client(domain: string): ModelLoaderClient {
    const connection = testRedisClient({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    const eventsConnection = testRedisClient({ maxRetriesPerRequest: null });
    connections.push(connection, eventsConnection);
    const c = new ModelLoaderClient({
      connection,
      eventsConnection,
      keyPrefix: world.redisPrefix,
      domain,
      defaultTimeoutMs: 120_000,
    });
    clients.push(c);
    return c;
  }

  async function cacheDir(label: string): Promise<string> {
    const d = await tempDir(label);
    dirs.push(d);
    return d;
  }

  beforeAll(async () => {
    world = await startWorld('loader-e2e');
  });
  afterAll(async () => {
    await Promise.all(loaders.map((l) => l.stop(10_000)));
    for (const c of clients) await c.close();
    for (const c of connections) c.disconnect();
    await world.close();
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });
  beforeEach(() => {
    world.proxy.reset();
    world.proxy.throttle(0);
  });

  describe('two loaders sharing one cache directory', () => {
    let dir: string;
    let a: SpawnedService;
    let b: SpawnedService;
    let loader: ModelLoaderClient;

    beforeAll(async () => {
      dir = await cacheDir('shared');
      a = start(await loaderEnv('shared', dir));
      b = start(await loaderEnv('shared', dir));
      await Promise.all([a.waitForReady(), b.waitForReady()]);
      loader = client('shared');
    });

    it('push, then ensure through the queue: files byte-identical to the source', async () => {
      const pushed = await world.publish('e2e-push');
      const got = await loader.ensure({ model: 'e2e-push', version: pushed.version });
      expect(got).toEqual({
        path: path.join(dir, 'models', 'e2e-push', String(pushed.version)),
        cached: false,
        via: 'loader',
      });
      expect(await digestsOf(got.path, ['manifest.json'])).toEqual(await digestsOf(pushed.dir));
      expect(await loader.ensure({ model: 'e2e-push', version: pushed.version })).toEqual({
        path: got.path,
        cached: true,
        via: 'loader',
      });
    });

    it('a warm ensure by a lease holder is answered from the ready list, no job; eviction unlists it', async () => {
      const pushed = await world.publish('e2e-ready');
      const ref = { model: 'e2e-ready', version: pushed.version };
      const redis = testRedisClient();
      connections.push(redis);
      const leases = new ModelLeases(redis, world.redisPrefix);
      const loaderHits = async () => {
        let n = 0;
        for (const l of [a, b])
          n += metricValue(
            (await httpGet(`${l.url}/metrics`)).text,
            'strata_artifact_cache_hits_total',
          );
        return n;
      };

      await leases.acquireLease('shared', ref.model, ref.version, 'w-e2e', 60_000);
      const cold = await loader.ensure(ref, { leaseHolder: 'w-e2e' });
      expect(cold).toMatchObject({ cached: false, via: 'loader' });
      const hitsBefore = await loaderHits();
      for (let i = 0; i < 5; i++)
        expect(await loader.ensure(ref, { leaseHolder: 'w-e2e' })).toEqual({
          path: cold.path,
          cached: true,
          via: 'index',
        });
      expect(await loaderHits()).toBe(hitsBefore);

      // Released and evicted: the list no longer vouches, the loader is asked (and downloads).
      await leases.releaseLease('shared', ref.model, ref.version, 'w-e2e');
      expect(await loader.evict(ref)).toEqual({ evicted: true });
      await leases.acquireLease('shared', ref.model, ref.version, 'w-e2e', 60_000);
      expect(await loader.ensure(ref, { leaseHolder: 'w-e2e' })).toEqual({
        path: cold.path,
        cached: false,
        via: 'loader',
      });
      expect(world.proxy.count('GET', '/weights.onnx')).toBe(2);
    });

    it('20 concurrent ensures of one cold version across both processes: one download, one path', async () => {
      const pushed = await world.publish('e2e-herd');
      // Slow enough that every job is taken (8 at a time per loader) while the first download runs.
      world.proxy.throttle(400 * 1024);
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          loader.ensure({ model: 'e2e-herd', version: pushed.version }),
        ),
      );
      expect(new Set(results.map((r) => r.path))).toEqual(
        new Set([path.join(dir, 'models', 'e2e-herd', String(pushed.version))]),
      );
      expect(world.proxy.count('GET', `/e2e-herd/${pushed.version}/weights.onnx`)).toBe(1);
      expect(world.proxy.count('GET', `/e2e-herd/${pushed.version}/manifest.json`)).toBe(1);
      // Both processes answered some of them.
      const served = await Promise.all(
        [a, b].map(async (l) => {
          const text = (await httpGet(`${l.url}/metrics`)).text;
          return (
            metricValue(text, 'strata_artifact_cache_misses_total') +
            metricValue(text, 'strata_artifact_cache_hits_total')
          );
        }),
      );
      expect(served.every((n) => n > 0)).toBe(true);
      const downloads = await Promise.all(
        [a, b].map(async (l) =>
          metricValue(
            (await httpGet(`${l.url}/metrics`)).text,
            'strata_artifact_downloads_total',
            'outcome="ok"',
          ),
        ),
      );
      expect(downloads.reduce((x, y) => x + y, 0)).toBe(4); // e2e-push, e2e-ready (twice: evicted in between), e2e-herd
    });

    it.each([
      ['../etc', 1],
      ['a/b/c', 1],
      ['', 1],
      ['x'.repeat(300), 1],
    ])(
      'refuses model %j with INVALID_NAME through the queue, writing nothing',
      async (model, version) => {
        const before = await listTree(dir);
        const err = await loader.ensure({ model, version }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ModelLoaderError);
        expect(err).toMatchObject({ code: 'INVALID_NAME' });
        expect((err as Error).message).toMatch(/^Invalid model name/);
        expect(await listTree(dir)).toEqual(before);
        expect(world.proxy.requests).toEqual([]);
      },
    );

    it('passes NOT_FOUND and CHECKSUM through intact, and counts the failure', async () => {
      await expect(loader.ensure({ model: 'e2e-nothing', version: 1 })).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: 'Unknown model "e2e-nothing"',
      });
      const pushed = await world.publish('e2e-flip');
      await world.flipByte('e2e-flip', pushed.version, 'weights.onnx');
      const err = await loader
        .ensure({ model: 'e2e-flip', version: pushed.version })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CHECKSUM' });
      expect((err as Error).message).toContain(
        `cannot fetch e2e-flip/${pushed.version}: weights.onnx from s3: sha256`,
      );
      expect(await listTree(path.join(dir, '.staging'))).toEqual([]);
      expect(await listTree(path.join(dir, 'models'))).not.toContain('e2e-flip/');
      const failures = await Promise.all(
        [a, b].map(async (l) =>
          metricValue(
            (await httpGet(`${l.url}/metrics`)).text,
            'strata_artifact_verification_failures_total',
            'phase="download"',
          ),
        ),
      );
      expect(failures.reduce((x, y) => x + y, 0)).toBe(1);
    });
  });

  it('SIGKILL during a 200 MB download: after restart no partial version, and ensure succeeds', async () => {
    const dir = await cacheDir('killed');
    const big = await world.registerRandom('e2e-big', 200 * 1024 * 1024);
    const env = await loaderEnv('killed', dir);
    const first = start(env);
    await first.waitForReady();
    const loader = client('killed');
    world.proxy.throttle(20 * 1024 * 1024);
    const pending = loader
      .ensure({ model: 'e2e-big', version: big.version }, { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    // Kill it once a good part of the weights sits in a staging directory.
    await waitFor(
      async () => {
        for (const name of await fs.readdir(path.join(dir, '.staging')).catch(() => [])) {
          const st = await fs
            .stat(path.join(dir, '.staging', name, 'weights.onnx'))
            .catch(() => undefined);
          if (st && st.size > 20 * 1024 * 1024) return true;
        }
        return false;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: 'a partial download in .staging' },
    );
    first.kill('SIGKILL');
    await first.exited;
    expect(await fs.readdir(path.join(dir, 'models')).catch(() => [])).toEqual([]);
    expect((await fs.readdir(path.join(dir, '.staging'))).length).toBeGreaterThan(0);
    await pending;

    world.proxy.throttle(0);
    const second = start(env);
    await second.waitForReady();
    expect(await listTree(path.join(dir, '.staging'))).toEqual([]);
    expect(await listTree(path.join(dir, 'models'))).toEqual([]);
    const got = await loader.ensure(
      { model: 'e2e-big', version: big.version },
      { timeoutMs: 120_000 },
    );
    expect(await sha256File(path.join(got.path, 'weights.onnx'))).toBe(
      big.manifest.files[0].sha256,
    );
    expect(await listTree(path.join(dir, '.staging'))).toEqual([]);
  });

  it('fetches PINNED_MODELS before /readyz answers 200', async () => {
    const dir = await cacheDir('pinned');
    const pushed = await world.publish('e2e-pinned');
    const svc = start(
      await loaderEnv('pinned', dir, { PINNED_MODELS: `e2e-pinned/${pushed.version}` }),
    );
    await svc.waitForReady();
    expect(
      await digestsOf(path.join(dir, 'models', 'e2e-pinned', String(pushed.version)), [
        'manifest.json',
      ]),
    ).toEqual(await digestsOf(pushed.dir));
    const metrics = (await httpGet(`${svc.url}/metrics`)).text;
    for (const name of [
      'strata_artifact_cache_hits_total',
      'strata_artifact_cache_misses_total',
      'strata_artifact_downloads_total',
      'strata_artifact_download_bytes_total',
      'strata_artifact_download_duration_seconds_bucket',
      'strata_artifact_verification_failures_total',
      'strata_artifact_evictions_total',
      'strata_artifact_disk_used_bytes',
      'strata_artifact_disk_cap_bytes',
      'strata_artifact_lock_wait_seconds_bucket',
    ])
      expect(metrics).toContain(name);
    // The gauge follows the pinned version's download, which readiness waited for.
    await waitFor(
      async () =>
        metricValue(
          (await httpGet(`${svc.url}/metrics`)).text,
          'strata_artifact_disk_used_bytes',
        ) === pushed.sizeBytes,
      { what: 'the disk usage gauge' },
    );
  });
});
