import { RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';
import { type RawTensor } from '@strata/tensors';
import {
  buildAddModel,
  deleteRedisPrefix,
  startRedisServer,
  testRedisClient,
  testRedisPrefix,
  waitFor,
  type RedisServer,
} from '@strata/testing';
import { Redis } from 'ioredis';
import * as ort from 'onnxruntime-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import { JobError } from '@strata/cache-keys';
import { PredictionCacheMetrics } from '../../src/cache/prediction-cache.metrics';
import { predictionDigest } from '../../src/cache/prediction-digest';
import {
  PredictionCacheService,
  type CacheTarget,
  type PredictionCacheSettings,
} from '../../src/cache/prediction-cache.service';
import { PredictionNoticesSubscriber } from '../../src/cache/prediction-notices.subscriber';
import { PredictionStore } from '../../src/cache/prediction-store.adapter';
import type { InferOptions, InferOutcome } from '../../src/inference/inference.service';

const logger = pino({ level: 'silent' });

function f32(values: number[], shape = [1, values.length]): RawTensor {
  return { name: 'x', datatype: 'FP32', shape, data: Buffer.from(new Float32Array(values).buffer) };
}

function floats(t: RawTensor): number[] {
  return [...new Float32Array(new Uint8Array(t.data).buffer)];
}

/**
 * Computes with ONNX Runtime in this process (an Add model: y = x + 1), the way a worker would,
 * counting runs. `fail` makes the next runs throw the worker's INVALID_INPUT error; `gate` holds
 * runs until released, so concurrent requests really overlap.
 */
class OrtCompute {
  runs = 0;
  fail = false;
  private release: (() => void) | undefined;
  private gate: Promise<void> | undefined;

  constructor(private readonly session: ort.InferenceSession) {}

  hold(): void {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release?.();
    this.gate = undefined;
  }

  compute = async (
    _target: unknown,
    inputs: readonly RawTensor[],
    _options: InferOptions,
  ): Promise<InferOutcome> => {
    this.runs++;
    if (this.gate) await this.gate;
    if (this.fail) throw new JobError('INVALID_INPUT', 'the model refused the input');
    const x = inputs[0];
    const feeds = {
      x: new ort.Tensor('float32', new Float32Array(new Uint8Array(x.data).buffer), x.shape),
    };
    const out = (await this.session.run(feeds)).y;
    const data = Buffer.from((out.data as Float32Array).buffer.slice(0));
    return {
      outputs: [{ name: 'y', datatype: 'FP32', shape: [...out.dims], data }],
      computeMs: 1,
      queueMs: 0,
      roundTripMs: 1,
      worker: 'test',
      batchSize: 1,
      cached: false,
    };
  };
}

const SETTINGS: PredictionCacheSettings = {
  enabled: true,
  defaultTtlSeconds: 60,
  maxEntryBytes: 1 << 20,
  waitTimeoutMs: 10_000,
  pollMs: 50,
};

describe('PredictionCacheService against real Redis and ONNX Runtime', () => {
  const prefix = testRedisPrefix('pred');
  const keys = new RedisKeys(prefix);
  const clients: RedisClient[] = [];
  let session: ort.InferenceSession;
  const target: CacheTarget = { model: 'add', version: 1, taskType: 'regression' };

  function client(): RedisClient {
    const c = testRedisClient();
    clients.push(c);
    return c;
  }

  /** A gateway's cache: its own connections, subscriber and in-process state. */
  function gateway(
    compute: OrtCompute,
    settings: Partial<PredictionCacheSettings> = {},
    redis?: RedisClient,
  ) {
    const notices = new PredictionNoticesSubscriber(client(), keys.predictionsChannel(), logger);
    notices.start();
    const registry = new Registry();
    return {
      registry,
      notices,
      cache: new PredictionCacheService({
        compute: compute.compute,
        store: new PredictionStore(redis ?? client(), keys),
        notices,
        metrics: new PredictionCacheMetrics(registry),
        settings: { ...SETTINGS, ...settings },
        logger,
      }),
    };
  }

  beforeAll(async () => {
    session = await ort.InferenceSession.create(buildAddModel({ shape: ['batch', 3], addend: 1 }));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await deleteRedisPrefix(prefix);
    await session.release();
  });

  it('miss, then hit with the same bytes; the generation bump retires the entry', async () => {
    const compute = new OrtCompute(session);
    const { cache } = gateway(compute);
    const x = f32([1, 2, 3]);
    const miss = await cache.infer(target, [x], { useCache: true });
    expect(miss.cache).toBe('miss');
    const hit = await cache.infer(target, [x], { useCache: true });
    expect([hit.cache, hit.cached, hit.computeMs]).toEqual(['hit', true, 0]);
    expect(hit.outputs[0].data.equals(miss.outputs[0].data)).toBe(true);
    expect(compute.runs).toBe(1);
    await client().incr(keys.generation('add', 1));
    expect((await cache.infer(target, [x], { useCache: true })).cache).toBe('miss');
    expect(compute.runs).toBe(2);
  });

  it('identical concurrent misses in two gateways compute once; everyone gets the answer', async () => {
    const compute = new OrtCompute(session);
    const a = gateway(compute);
    const b = gateway(compute);
    compute.hold();
    const x = f32([5, 6, 7]);
    const pending = Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? a : b).cache.infer(target, [x], { useCache: true }),
    );
    // One gateway computes (held); the other's leader waits on its lock before it is let go.
    await waitFor(async () => compute.runs === 1 && a.notices.waiting + b.notices.waiting > 0, {
      timeoutMs: 5000,
      what: 'one run and a waiter in the other gateway',
    });
    compute.open();
    const answers = await Promise.all(pending);
    expect(compute.runs).toBe(1);
    for (const o of answers) expect(floats(o.outputs[0])).toEqual([6, 7, 8]);
    expect(answers.filter((o) => o.cache === 'miss')).toHaveLength(1);
    const metrics = (await a.registry.metrics()) + (await b.registry.metrics());
    expect(metrics).toMatch(
      /strata_prediction_cache_coalesced_total\{model="add",scope="local"\} 19/,
    );
    expect(metrics).toMatch(
      /strata_prediction_cache_coalesced_total\{model="add",scope="remote"\} 1/,
    );
  });

  it('a failure reaches every waiter in both gateways and is not stored', async () => {
    const compute = new OrtCompute(session);
    const a = gateway(compute);
    const b = gateway(compute);
    compute.hold();
    compute.fail = true;
    const x = f32([8, 8, 8]);
    const pending = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? a : b).cache.infer(target, [x], { useCache: true }).then(
        () => 'ok',
        (err: unknown) => (err instanceof JobError ? err.code : String(err)),
      ),
    );
    // One gateway computes (held); the other's leader waits on its lock before it is let go.
    await waitFor(async () => compute.runs === 1 && a.notices.waiting + b.notices.waiting > 0, {
      timeoutMs: 5000,
      what: 'one run and a waiter in the other gateway',
    });
    compute.open();
    expect(await Promise.all(pending)).toEqual(new Array(10).fill('INVALID_INPUT'));
    expect(compute.runs).toBe(1);
    compute.fail = false;
    expect((await a.cache.infer(target, [x], { useCache: true })).cache).toBe('miss');
    expect(compute.runs).toBe(2);
  });

  it('a lock whose holder died is taken over once it expires', async () => {
    const compute = new OrtCompute(session);
    const { cache } = gateway(compute);
    const x = f32([3, 3, 3]);
    // Another gateway took the lock and was killed before it answered.
    const redis = client();
    const generation = (await redis.get(keys.generation('add', 1))) ?? '0';
    const digest = predictionDigest({ model: 'add', version: 1, generation, inputs: [x] });
    await redis.set(keys.predictionLock(digest), 'dead-gateway', 'PX', 400);
    const answer = await cache.infer(target, [x], { useCache: true });
    expect(answer.cache).toBe('miss');
    expect(floats(answer.outputs[0])).toEqual([4, 4, 4]);
    expect(compute.runs).toBe(1);
  });

  it('bypass and TTL 0 neither read nor write; TTL comes from the target', async () => {
    const compute = new OrtCompute(session);
    const { cache } = gateway(compute);
    const x = f32([4, 5, 6]);
    const before = new Set(await scanPrefix(client(), `${prefix}:pred:`));
    expect((await cache.infer(target, [x], { useCache: false })).cache).toBe('bypass');
    const ttl0 = await cache.infer({ ...target, predictionCacheTtl: 0 }, [x], { useCache: true });
    expect(ttl0.cache).toBe('bypass');
    expect(await scanPrefix(client(), `${prefix}:pred:`)).toHaveLength(before.size);
    await cache.infer({ ...target, predictionCacheTtl: 7 }, [x], { useCache: true });
    const added = (await scanPrefix(client(), `${prefix}:pred:`)).filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    const ttl = await client().ttl(added[0]);
    expect(ttl > 0 && ttl <= 7).toBe(true);
    // A bypass does not read the entry now stored either.
    expect((await cache.infer(target, [x], { useCache: false })).cache).toBe('bypass');
    expect(compute.runs).toBe(4);
  });

  it('answers too large to store are computed by each waiter, never stored', async () => {
    const compute = new OrtCompute(session);
    const a = gateway(compute, { maxEntryBytes: 16 });
    const b = gateway(compute, { maxEntryBytes: 16 });
    compute.hold();
    const x = f32([1, 1, 2]);
    const pending = [a, b].map((g) => g.cache.infer(target, [x], { useCache: true }));
    await waitFor(async () => compute.runs === 1 && a.notices.waiting + b.notices.waiting > 0, {
      timeoutMs: 5000,
      what: 'one run and a waiter in the other gateway',
    });
    compute.open();
    const answers = await Promise.all(pending);
    for (const o of answers) expect(floats(o.outputs[0])).toEqual([2, 2, 3]);
    expect(compute.runs).toBe(2);
    // Whichever gateway took the lock tried to store it; the other computed on its own.
    const both = (await a.registry.metrics()) + (await b.registry.metrics());
    expect(both).toMatch(
      /strata_prediction_cache_skipped_total\{model="add",reason="too_large"\} 1/,
    );
  });

  it('a corrupt entry is a miss, and is replaced', async () => {
    const compute = new OrtCompute(session);
    const { cache, registry } = gateway(compute);
    const x = f32([0, 0, 1]);
    await cache.infer(target, [x], { useCache: true });
    const redis = client();
    const before = new Set(await scanPrefix(redis, `${prefix}:pred:`));
    await cache.infer({ ...target, version: 2 }, [x], { useCache: true });
    const key = (await scanPrefix(redis, `${prefix}:pred:`)).find((k) => !before.has(k)) as string;
    await redis.set(key, 'garbage');
    const again = await cache.infer({ ...target, version: 2 }, [x], { useCache: true });
    expect(again.cache).toBe('miss');
    expect(floats(again.outputs[0])).toEqual([1, 1, 2]);
    expect(await registry.metrics()).toMatch(
      /strata_prediction_cache_errors_total\{op="decode"\} 1/,
    );
    expect((await cache.infer({ ...target, version: 2 }, [x], { useCache: true })).cache).toBe(
      'hit',
    );
  });

  describe('with Redis down', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('computes without the cache (bypass), and caches again once Redis is back', async () => {
      const compute = new OrtCompute(session);
      const own = new Redis(server.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 100,
      });
      clients.push(own);
      own.on('error', () => undefined);
      await waitFor(async () => own.status === 'ready', { timeoutMs: 5000, what: 'redis' });
      const { cache } = gateway(compute, {}, own);
      const x = f32([2, 2, 2]);
      expect((await cache.infer(target, [x], { useCache: true })).cache).toBe('miss');
      await server.stop();
      const down = await cache.infer(target, [x], { useCache: true });
      expect([down.cache, floats(down.outputs[0])]).toEqual(['bypass', [3, 3, 3]]);
      await server.restart();
      await waitFor(async () => own.status === 'ready', { timeoutMs: 10_000, what: 'reconnect' });
      expect((await cache.infer(target, [x], { useCache: true })).cache).toBe('miss');
      expect((await cache.infer(target, [x], { useCache: true })).cache).toBe('hit');
      await own.quit();
    });
  });
});

async function scanPrefix(redis: RedisClient, match: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await (redis as Redis).scan(cursor, 'MATCH', `${match}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}
