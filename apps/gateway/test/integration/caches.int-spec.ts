import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyEvents, ApiKeyService, hashSecret, type VerifyResult } from '@strata/api-keys';
import { RedisKeys } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  ModelAdminService,
  ModelRegistryRepository,
  RegistryEvents,
  type ResolvedVersion,
  type VersionRef,
} from '@strata/model-registry';
import { createRedisClient } from '@strata/service-kit';
import {
  buildIdentityModel,
  createTestDatabase,
  deleteRedisPrefix,
  startRedisServer,
  testRedisClient,
  testRedisPrefix,
  testRedisTopology,
  waitFor,
  type RedisClient,
  type RedisTopology,
  type TestDatabase,
} from '@strata/testing';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ApiKeyAuthService } from '../../src/auth/api-key-auth.service';
import { AuthCache } from '../../src/auth/auth-cache';
import { AuthRedisStore } from '../../src/auth/auth-redis.store';
import { CacheMetrics } from '../../src/metrics/cache.metrics';
import { MetadataRedisStore } from '../../src/registry/metadata-redis.store';
import { ModelMetadataService } from '../../src/registry/model-metadata.service';
import { RegistryEventsSubscriber } from '../../src/registry/registry-events.subscriber';
import { registerVersion } from '../support/registry-fixture';

const logger = pino({ level: 'silent' });

/** Holds a call after its real work until `release()`; `reached` resolves when it gets there. */
class Hold {
  private open!: () => void;
  private arrived!: () => void;
  readonly reached = new Promise<void>((r) => (this.arrived = r));
  private readonly gate = new Promise<void>((r) => (this.open = r));
  async pass(): Promise<void> {
    this.arrived();
    await this.gate;
  }
  release(): void {
    this.open();
  }
}

/** The real ApiKeyService; a `hold` makes verify wait after its Postgres read. */
class HeldKeys extends ApiKeyService {
  hold?: Hold;
  verifies = 0;
  override async verify(secret: string): Promise<VerifyResult> {
    this.verifies++;
    const result = await super.verify(secret);
    await this.hold?.pass();
    return result;
  }
}

/** The real repository; a `hold` makes resolve wait after its Postgres read. */
class HeldRepository extends ModelRegistryRepository {
  hold?: Hold;
  resolves = 0;
  override async resolve(model: string, ref?: VersionRef): Promise<ResolvedVersion> {
    this.resolves++;
    const result = await super.resolve(model, ref);
    await this.hold?.pass();
    return result;
  }
}

/** What one gateway process holds for auth and metadata, built as gateway.module builds it. */
interface Gateway {
  auth: ApiKeyAuthService;
  metadata: ModelMetadataService;
  keys: HeldKeys;
  repository: HeldRepository;
  redis: RedisClient;
  registry: Registry;
  prefix: string;
  close(): Promise<void>;
}

const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 };

async function startGateway(
  prisma: PrismaClient,
  topology: RedisTopology,
  prefix: string,
): Promise<Gateway> {
  const redisKeys = new RedisKeys(prefix);
  const redis = createRedisClient(topology, {
    ...FAIL_FAST,
    retryStrategy: (n) => Math.min(n * 50, 500),
  });
  const subscriber = createRedisClient(topology, {
    retryStrategy: (n) => Math.min(n * 50, 500),
  });
  redis.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const registry = new Registry();
  const metrics = new CacheMetrics(registry);
  const keys = new HeldKeys(prisma);
  const repository = new HeldRepository(prisma);
  const auth = new ApiKeyAuthService(keys, new AuthCache(60_000, 1000, Date.now, 900_000), logger, {
    redis: new AuthRedisStore(redis, redisKeys, {
      ttlSeconds: 900,
      unknownTtlSeconds: 60,
      timeoutMs: 500,
    }),
    metrics,
  });
  const metadata = new ModelMetadataService(repository, {
    localTtlMs: 60_000,
    redis: new MetadataRedisStore(redis, redisKeys, { ttlSeconds: 3600, timeoutMs: 500 }),
    staleMs: 3_600_000,
    metrics,
    logger,
  });
  const events = new RegistryEventsSubscriber(
    subscriber,
    redisKeys.eventsChannel(),
    { metadata, auth },
    logger,
  );
  await events.start();
  await events.subscribed();
  return {
    auth,
    metadata,
    keys,
    repository,
    redis,
    registry,
    prefix,
    close: async () => {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

/**
 * Lets the fire-and-forget cache writes a gateway sent so far land: a read on the same
 * connection (and the model's slot) is answered after them.
 */
async function settled(gw: Gateway, model: string): Promise<void> {
  await gw.redis.get(new RedisKeys(gw.prefix).metaEpoch(model));
}

async function count(gw: Gateway, labels: Record<string, string>): Promise<number> {
  const metric = await gw.registry.getSingleMetric('strata_cache_requests_total')?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return match?.value ?? 0;
}

describe('auth and metadata caches: process → Redis → Postgres, with invalidation', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let prefix: string;
  let keys: RedisKeys;
  let cacheDir: string;
  let a: Gateway;
  let b: Gateway;
  let redis: RedisClient;
  let revoker: ApiKeyService;
  let admin: ModelAdminService;

  beforeAll(async () => {
    db = await createTestDatabase('gwc');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 6 });
    prefix = testRedisPrefix('gwc');
    keys = new RedisKeys(prefix);
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwc-'));
    const weights = buildIdentityModel({ datatype: 'FP32', shape: ['batch', 2] });
    await registerVersion(prisma, cacheDir, { model: 'm', weights, alias: 'prod' });
    await registerVersion(prisma, cacheDir, { model: 'm', weights });
    redis = testRedisClient();
    // The publishers: what `strata keys revoke` / the admin endpoints run.
    revoker = new ApiKeyService(prisma, { events: new ApiKeyEvents(redis, keys) });
    admin = new ModelAdminService({
      repository: new ModelRegistryRepository(prisma),
      s3Prefix: '',
      events: new RegistryEvents(redis, keys),
    });
    a = await startGateway(prisma, testRedisTopology(), prefix);
    b = await startGateway(prisma, testRedisTopology(), prefix);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    redis?.disconnect();
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('auth: A fills Redis from Postgres, B reads it from Redis; a revocation reaches both at once', async () => {
    const { key, secret } = await revoker.create({ name: 'two-level' });
    expect((await a.auth.authenticate(secret)).ok).toBe(true);
    expect(a.keys.verifies).toBe(1);
    // The fire-and-forget write went out on A's connection before this read.
    expect(await a.redis.get(keys.auth(hashSecret(secret)))).toContain(key.id);

    expect((await b.auth.authenticate(secret)).ok).toBe(true);
    expect((await b.auth.authenticate(secret)).ok).toBe(true);
    expect(b.keys.verifies).toBe(0);
    expect(await count(b, { cache: 'auth', level: 'redis', result: 'hit' })).toBe(1);
    expect(await count(b, { cache: 'auth', level: 'process', result: 'hit' })).toBe(1);

    const revoked = await revoker.revoke(key.id);
    expect(revoked.eventsPublished).toBe(true);
    // Both hold the key in process memory for 60 s; only the broadcast can drop it.
    for (const gw of [a, b]) {
      await waitFor(
        async () => {
          const r = await gw.auth.authenticate(secret);
          return !r.ok && r.reason === 'revoked';
        },
        { timeoutMs: 5000, intervalMs: 10, what: 'the revocation to reach the gateway' },
      );
    }
    // Answered by the `revoked` entry in Redis, not by Postgres.
    expect(b.keys.verifies).toBe(0);
  });

  it('auth race: a lookup that read Postgres before a revocation cannot put the key back', async () => {
    const { key, secret } = await revoker.create({ name: 'race' });
    const hold = new Hold();
    a.keys.hold = hold;
    const pending = a.auth.authenticate(secret);
    await hold.reached; // A read the key from Postgres: valid.
    await revoker.revoke(key.id);
    hold.release();
    a.keys.hold = undefined;
    expect((await pending).ok).toBe(true); // the request already under way goes through
    // A's SET NX went out before this GET on the same connection; it found `revoked`.
    expect(await a.redis.get(keys.auth(hashSecret(secret)))).toBe('{"v":1,"r":"revoked"}');
    expect(await b.auth.authenticate(secret)).toEqual({ ok: false, reason: 'revoked' });
    await waitFor(
      async () => {
        const r = await a.auth.authenticate(secret);
        return !r.ok && r.reason === 'revoked';
      },
      { timeoutMs: 5000, intervalMs: 10, what: 'A to refuse the key' },
    );
  });

  it('auth: unknown keys are cached as refusals; never a refusal for a key created later', async () => {
    const made = `sk_${'Q'.repeat(32)}`;
    expect(await a.auth.authenticate(made)).toEqual({ ok: false, reason: 'unknown' });
    expect(await b.auth.authenticate(made)).toEqual({ ok: false, reason: 'unknown' });
    expect(await a.redis.ttl(keys.auth(hashSecret(made)))).toBeLessThanOrEqual(60);
    expect(b.keys.verifies).toBe(0);
  });

  it('metadata: A fills Redis, B reads it; an alias move is seen by both at once', async () => {
    const resolvesA = a.repository.resolves;
    expect((await a.metadata.resolve('m', 'prod')).version).toBe(1);
    expect(a.repository.resolves).toBe(resolvesA + 1);
    expect((await a.metadata.resolve('m', 1)).version).toBe(1);
    const record = await a.metadata.getModel('m');
    await settled(a, 'm');
    expect((await b.metadata.resolve('m', 'prod')).version).toBe(1);
    expect((await b.metadata.resolve('m', 1)).version).toBe(1);
    expect((await b.metadata.resolve('m')).version).toBe(2);
    expect(record?.aliases.map((x) => [x.alias, x.version])).toEqual([
      ['latest', 2],
      ['prod', 1],
    ]);
    const fromRedis = await b.metadata.getModel('m');
    expect(fromRedis).toEqual(record);
    expect(fromRedis?.createdAt).toBeInstanceOf(Date);
    // B resolved `prod` and 1 from Redis; only `latest` was new to both levels.
    expect(b.repository.resolves).toBe(1);
    expect(await count(b, { cache: 'metadata', level: 'redis', result: 'hit' })).toBe(3);

    await admin.setAlias('m', 'prod', 2);
    for (const gw of [a, b]) {
      await waitFor(async () => (await gw.metadata.resolve('m', 'prod')).version === 2, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: 'the alias move to reach the gateway',
      });
      const aliases = (await gw.metadata.getModel('m'))?.aliases;
      expect(aliases?.find((x) => x.alias === 'prod')?.version).toBe(2);
    }
  });

  it('metadata race: a lookup that read Postgres before an alias move cannot make it current again', async () => {
    a.metadata.invalidate();
    await redis.del(keys.alias('m', 'prod'));
    const epochBefore = (await redis.get(keys.metaEpoch('m'))) ?? '0';
    const hold = new Hold();
    a.repository.hold = hold;
    const pending = a.metadata.resolve('m', 'prod');
    await hold.reached; // A read prod → 2 from Postgres
    await admin.setAlias('m', 'prod', 1);
    hold.release();
    a.repository.hold = undefined;
    expect((await pending).version).toBe(2);
    // A wrote its (old) answer after the move, tagged with the epoch it read before asking.
    const written = JSON.parse((await a.redis.get(keys.alias('m', 'prod'))) ?? 'null') as {
      e: string;
      v: number;
    };
    expect(written).toEqual({ e: epochBefore, v: 2 });
    expect(await redis.get(keys.metaEpoch('m'))).not.toBe(epochBefore);
    // Nobody takes it for current: B (fresh process copy) and A resolve the moved alias.
    b.metadata.invalidate();
    expect((await b.metadata.resolve('m', 'prod')).version).toBe(1);
    await waitFor(async () => (await a.metadata.resolve('m', 'prod')).version === 1, {
      timeoutMs: 5000,
      intervalMs: 10,
      what: 'A to resolve the moved alias',
    });
  });

  it('metadata: deleting a version makes it unknown everywhere at once', async () => {
    await registerVersion(prisma, cacheDir, {
      model: 'm',
      weights: buildIdentityModel({ datatype: 'FP32', shape: ['batch', 2] }),
    });
    expect((await a.metadata.resolve('m', 3)).version).toBe(3);
    await settled(a, 'm');
    expect((await b.metadata.resolve('m', 3)).version).toBe(3);
    await admin.deleteVersion('m', 3);
    for (const gw of [a, b]) {
      await waitFor(
        async () =>
          gw.metadata.resolve('m', 3).then(
            () => false,
            (e: Error) => /deleted/.test(e.message),
          ),
        { timeoutMs: 5000, intervalMs: 10, what: 'the deletion to reach the gateway' },
      );
      expect((await gw.metadata.resolve('m')).version).toBe(2);
    }
  });
});

describe('auth and metadata with Redis down (private redis-server)', () => {
  it('keep answering from Postgres (Redis errors are misses), then use Redis again after it restarts', async () => {
    const server = await startRedisServer();
    const db = await createTestDatabase('gwcd');
    const prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gwcd-'));
    const prefix = testRedisPrefix('gwcd');
    const topology: RedisTopology = { kind: 'standalone', url: server.url };
    const gw = await startGateway(prisma, topology, prefix);
    try {
      await registerVersion(prisma, cacheDir, {
        model: 'd',
        weights: buildIdentityModel({ datatype: 'FP32', shape: ['batch', 2] }),
      });
      const keysService = new ApiKeyService(prisma);
      const cached = (await keysService.create({ name: 'cached' })).secret;
      expect((await gw.auth.authenticate(cached)).ok).toBe(true);

      await server.stop();
      await waitFor(() => gw.redis.status !== 'ready', { timeoutMs: 10_000, intervalMs: 20 });
      const fresh = (await keysService.create({ name: 'fresh' })).secret;
      expect((await gw.auth.authenticate(fresh)).ok).toBe(true);
      expect((await gw.auth.authenticate(cached)).ok).toBe(true);
      expect((await gw.metadata.resolve('d')).version).toBe(1);
      expect((await gw.metadata.getModel('d'))?.name).toBe('d');
      expect(await count(gw, { cache: 'auth', level: 'redis', result: 'error' })).toBe(1);
      expect(await count(gw, { cache: 'metadata', level: 'redis', result: 'error' })).toBe(2);

      await server.restart();
      await waitFor(() => gw.redis.status === 'ready', { timeoutMs: 20_000, intervalMs: 50 });
      const after = (await keysService.create({ name: 'after' })).secret;
      expect((await gw.auth.authenticate(after)).ok).toBe(true);
      await waitFor(async () => gw.redis.get(new RedisKeys(prefix).auth(hashSecret(after))), {
        timeoutMs: 5000,
        intervalMs: 20,
        what: 'the Redis level to be written again',
      });
    } finally {
      await gw.close();
      await server.stop();
      await prisma.$disconnect();
      await db.drop();
      await fs.rm(cacheDir, { recursive: true, force: true });
    }
  });
});
