import { bullPrefix, createDispatcher, modelLoadQueue } from '@strata/cache-keys';
import {
  deleteRedisPrefix,
  startRedisServer,
  testRedisPrefix,
  testRedisUrl,
  waitFor,
} from '@strata/testing';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RedisKeys } from '@strata/cache-keys';
import { encodeLoaderFailure, ModelLeases, ModelLoaderClient, ModelLoaderError } from '../../src';

const failFast = (url: string) =>
  new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
const blocking = (url: string) => new Redis(url, { maxRetriesPerRequest: null });

describe('ModelLoaderClient (real Redis, a stand-in loader)', () => {
  const prefix = testRedisPrefix('loader-client');
  const domain = 'client-test';
  const url = testRedisUrl();
  let producer: Redis;
  let events: Redis;
  let workerConn: Redis;
  let client: ModelLoaderClient;
  let worker: Worker;
  const seen: string[] = [];

  beforeAll(async () => {
    producer = failFast(url);
    events = blocking(url);
    workerConn = blocking(url);
    client = new ModelLoaderClient({
      connection: producer,
      eventsConnection: events,
      keyPrefix: prefix,
      domain,
    });
    worker = new Worker(
      modelLoadQueue(domain),
      createDispatcher('model-load', {
        ensure: async (job) => {
          seen.push(`ensure ${job.data.model}/${job.data.version}`);
          if (job.data.model === 'corrupt')
            throw new Error(
              encodeLoaderFailure(
                'CHECKSUM',
                `corrupt/${job.data.version}: weights.onnx: sha256 mismatch`,
              ),
            );
          if (job.data.model === 'bad..name')
            throw new UnrecoverableError(
              encodeLoaderFailure('INVALID_NAME', 'Invalid model name "bad..name"'),
            );
          if (job.data.model === 'crash') throw new Error('plain failure');
          if (job.data.model === 'slow') await new Promise((r) => setTimeout(r, 1500));
          return { path: `/cache/models/${job.data.model}/${job.data.version}`, cached: false };
        },
        evict: async () => ({ evicted: true }),
        clear: async (job) => ({ removed: job.data.model ? 1 : 7 }),
      }),
      { connection: workerConn, prefix: bullPrefix(prefix), concurrency: 8 },
    );
    await client.ready();
  });

  afterAll(async () => {
    await worker.close();
    await client.close();
    producer.disconnect();
    events.disconnect();
    workerConn.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('returns the loader result of ensure, evict and clear', async () => {
    await expect(client.ensure({ model: 'resnet', version: 3 })).resolves.toEqual({
      path: '/cache/models/resnet/3',
      cached: false,
      via: 'loader',
    });
    await expect(client.evict({ model: 'resnet', version: 3 })).resolves.toEqual({ evicted: true });
    await expect(client.clear('resnet')).resolves.toEqual({ removed: 1 });
    await expect(client.clear()).resolves.toEqual({ removed: 7 });
  });

  describe("a warm ensure by a lease holder, from the loader's ready list", () => {
    const keys = new RedisKeys(prefix);
    let dir: string;
    let leases: ModelLeases;
    const list = (model: string, version: number, at: string) =>
      producer.hset(keys.diskReady(domain), `${model}/${version}`, at);
    const asked = (model: string, version: number) =>
      seen.filter((s) => s === `ensure ${model}/${version}`).length;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'strata-ready-'));
      leases = new ModelLeases(producer, prefix);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('is answered without a job when the loader lists it and the lease is live; the use is recorded', async () => {
      await list('warm', 1, dir);
      await leases.acquireLease(domain, 'warm', 1, 'w1', 10_000);
      const before = Date.now();
      await expect(
        client.ensure({ model: 'warm', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toEqual({ path: dir, cached: true, via: 'index' });
      expect(asked('warm', 1)).toBe(0);
      const lastUse = Number(await producer.zscore(keys.diskLru(domain), 'warm/1'));
      expect(lastUse).toBeGreaterThanOrEqual(before - 5000);
    });

    it("asks the loader without a lease, with another worker's lease, or with an expired one", async () => {
      await list('unleased', 1, dir);
      await expect(client.ensure({ model: 'unleased', version: 1 })).resolves.toMatchObject({
        via: 'loader',
      });
      await expect(
        client.ensure({ model: 'unleased', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toMatchObject({ via: 'loader' });
      await leases.acquireLease(domain, 'unleased', 1, 'w2', 10_000);
      await expect(
        client.ensure({ model: 'unleased', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toMatchObject({ via: 'loader' });
      await leases.acquireLease(domain, 'unleased', 1, 'w1', 1);
      await new Promise((r) => setTimeout(r, 20));
      await expect(
        client.ensure({ model: 'unleased', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toMatchObject({ via: 'loader' });
      expect(asked('unleased', 1)).toBe(4);
    });

    it('asks the loader when the version is not listed, its lock is taken, or its directory is gone', async () => {
      await leases.acquireLease(domain, 'unlisted', 1, 'w1', 10_000);
      await expect(
        client.ensure({ model: 'unlisted', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toEqual({ path: '/cache/models/unlisted/1', cached: false, via: 'loader' });

      // An evictor (or a download) holds the version lock: the list cannot vouch right now.
      await list('locked', 1, dir);
      await leases.acquireLease(domain, 'locked', 1, 'w1', 10_000);
      await producer.set(keys.artifactLock(domain, 'locked', 1), 'evictor', 'PX', 10_000);
      await expect(
        client.ensure({ model: 'locked', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toMatchObject({ via: 'loader' });
      await producer.del(keys.artifactLock(domain, 'locked', 1));
      await expect(
        client.ensure({ model: 'locked', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toMatchObject({ via: 'index' });

      await list('gone', 1, path.join(dir, 'no-such-version'));
      await leases.acquireLease(domain, 'gone', 1, 'w1', 10_000);
      await expect(
        client.ensure({ model: 'gone', version: 1 }, { leaseHolder: 'w1' }),
      ).resolves.toEqual({ path: '/cache/models/gone/1', cached: false, via: 'loader' });
      expect([asked('unlisted', 1), asked('locked', 1), asked('gone', 1)]).toEqual([1, 1, 1]);
    });
  });

  it('passes the loader error code and message through intact', async () => {
    const err = await client.ensure({ model: 'corrupt', version: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoaderError);
    expect(err).toMatchObject({
      code: 'CHECKSUM',
      message: 'corrupt/2: weights.onnx: sha256 mismatch',
    });
    await expect(client.ensure({ model: 'bad..name', version: 1 })).rejects.toMatchObject({
      code: 'INVALID_NAME',
      message: 'Invalid model name "bad..name"',
    });
    // With a lease holder too: a name no key can hold goes to the loader, which refuses it.
    await expect(
      client.ensure({ model: 'bad..name', version: 1 }, { leaseHolder: 'w1' }),
    ).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await expect(client.ensure({ model: 'crash', version: 1 })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'plain failure',
    });
  });

  it('answers many concurrent calls', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.ensure({ model: `m${i % 5}`, version: 1 })),
    );
    expect(results.map((r) => r.path)).toEqual(
      Array.from({ length: 50 }, (_, i) => `/cache/models/m${i % 5}/1`),
    );
  });

  it('works on its first call with brand-new connections', async () => {
    const conns = [failFast(url), blocking(url)];
    const fresh = new ModelLoaderClient({
      connection: conns[0],
      eventsConnection: conns[1],
      keyPrefix: prefix,
      domain,
    });
    try {
      await expect(fresh.ensure({ model: 'first', version: 1 })).resolves.toMatchObject({
        path: '/cache/models/first/1',
      });
    } finally {
      await fresh.close();
      for (const c of conns) c.disconnect();
    }
  });

  it('times out with TIMEOUT when the loader is slower than the caller', async () => {
    await expect(
      client.ensure({ model: 'slow', version: 1 }, { timeoutMs: 200 }),
    ).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  it('times out with TIMEOUT when no loader consumes the queue, and withdraws the job', async () => {
    const lonely = new ModelLoaderClient({
      connection: producer,
      eventsConnection: events,
      keyPrefix: prefix,
      domain: 'nobody-home',
    });
    try {
      const err = await lonely
        .ensure({ model: 'resnet', version: 1 }, { timeoutMs: 300 })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TIMEOUT' });
      expect((err as Error).message).toContain('resnet');
      const queue = new Queue(modelLoadQueue('nobody-home'), {
        connection: producer,
        prefix: bullPrefix(prefix),
      });
      expect(await queue.getWaitingCount()).toBe(0);
      await queue.close();
    } finally {
      await lonely.close();
    }
  });
});

describe('ModelLoaderClient with Redis down', () => {
  it('fails fast on a brand-new connection to a Redis that is not there', async () => {
    const server = await startRedisServer();
    await server.stop();
    const producer = failFast(server.url);
    const events = blocking(server.url);
    producer.on('error', () => undefined);
    events.on('error', () => undefined);
    const client = new ModelLoaderClient({
      connection: producer,
      eventsConnection: events,
      keyPrefix: testRedisPrefix('never'),
      domain: 'down',
    });
    try {
      await expect(
        client.ensure({ model: 'resnet', version: 1 }, { timeoutMs: 60_000 }),
      ).rejects.toMatchObject({ code: 'INTERNAL', retryable: true });
    } finally {
      await client.close();
      producer.disconnect();
      events.disconnect();
    }
  });

  it('fails fast with a retryable INTERNAL error instead of waiting for Redis', async () => {
    const server = await startRedisServer();
    const prefix = testRedisPrefix('loader-client-down');
    const producer = failFast(server.url);
    const events = blocking(server.url);
    producer.on('error', () => undefined);
    events.on('error', () => undefined);
    const client = new ModelLoaderClient({
      connection: producer,
      eventsConnection: events,
      keyPrefix: prefix,
      domain: 'down',
    });
    try {
      await client.ready();
      await server.stop();
      await waitFor(async () => producer.status !== 'ready', {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'disconnect',
      });
      // A timeout far beyond any reconnect: the answer must come from the fail-fast path.
      const err = await client
        .ensure({ model: 'resnet', version: 1 }, { timeoutMs: 60_000 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelLoaderError);
      expect(err).toMatchObject({ code: 'INTERNAL', retryable: true });
      expect((err as Error).message).toMatch(/Redis|connect|writeable/i);
    } finally {
      await client.close();
      producer.disconnect();
      events.disconnect();
      await server.stop();
    }
  });
});
