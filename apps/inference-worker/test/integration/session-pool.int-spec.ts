import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@strata/testing';
import { f32Tensor, outputBytes } from '../support/direct-ort';
import { DirectoryModelSource } from '../support/directory-model-source';
import { CLS_OUT, REAL_MODELS, SILERO_ENVIRONMENT, randomF32 } from '../support/real-models';
import { metricValues, startWorker, type WorkerHarness } from '../support/worker-harness';

const clsInput = (seed: number) => [f32Tensor('x', [1, 3, 48, 192], randomF32(3 * 48 * 192, seed))];

async function counters(
  metric: WorkerHarness['metrics']['evictions'] | WorkerHarness['metrics']['loads'],
) {
  return Object.fromEntries(
    (await metricValues(metric)).map((v) => [Object.values(v.labels).join(':'), v.value]),
  );
}

describe('session pool with ONNX Runtime and real files', () => {
  let source: DirectoryModelSource;

  beforeAll(async () => {
    source = await DirectoryModelSource.create();
    for (const name of ['cls-a', 'cls-b', 'cls-c'])
      await source.install(name, 1, REAL_MODELS.classifier);
    await source.install('vad', 1, REAL_MODELS.silero, SILERO_ENVIRONMENT);
    await source.install('cold', 1, REAL_MODELS.classifier);
  });

  afterAll(() => source?.remove());

  describe('MAX_ACTIVE_MODELS=2, 4 models, vad/1 pinned', () => {
    let worker: WorkerHarness;

    beforeAll(async () => {
      worker = await startWorker({
        source,
        env: { MAX_ACTIVE_MODELS: '2', PINNED_MODELS: 'vad/1', WORKER_ID: 'lru-worker' },
      });
    });

    afterAll(() => worker?.close());

    const loaded = () =>
      worker.pool
        .list()
        .map((m) => `${m.model}/${m.version}`)
        .sort();
    const placedOn = async (model: string) => {
      const key = worker.keys.placement(model, 1);
      const now = Date.now();
      return worker.redis.zrangebyscore(key, now, '+inf');
    };
    const leased = (model: string) =>
      worker.redis.zrange(worker.keys.leases('test', model, 1), 0, -1);

    it('loads the pinned model at boot', async () => {
      await waitFor(async () => loaded().includes('vad/1'), {
        timeoutMs: 20_000,
        what: 'pinned vad/1 loaded',
      });
      expect(worker.pool.list()[0]).toMatchObject({ model: 'vad', pinned: true });
      // The placement entry is written right after the session joins the pool: wait for it.
      await waitFor(async () => (await placedOn('vad')).length > 0, {
        timeoutMs: 5_000,
        what: 'placement of vad/1',
      });
      expect(await placedOn('vad')).toEqual(['lru-worker']);
      expect(await leased('vad')).toEqual(['lru-worker']);
    });

    it('evicts the least recently used unpinned models and keeps the pinned one', async () => {
      await worker.run({ model: 'cls-a', version: 1, inputs: clsInput(1) });
      expect(loaded()).toEqual(['cls-a/1', 'vad/1']);
      await worker.run({ model: 'cls-b', version: 1, inputs: clsInput(2) });
      expect(loaded()).toEqual(['cls-b/1', 'vad/1']);
      await worker.run({ model: 'cls-c', version: 1, inputs: clsInput(3) });
      expect(loaded()).toEqual(['cls-c/1', 'vad/1']);
      const again = await worker.run({ model: 'cls-a', version: 1, inputs: clsInput(4) });
      expect(outputBytes(again, CLS_OUT)).toHaveLength(8);
      expect(loaded()).toEqual(['cls-a/1', 'vad/1']);

      await waitFor(async () => source.released.length === 3, {
        timeoutMs: 10_000,
        what: 'loader told of 3 unloads',
      });
      expect(source.released).toEqual(['cls-a/1', 'cls-b/1', 'cls-c/1']);
      expect(await counters(worker.metrics.evictions)).toEqual({
        'cls-a:lru': 1,
        'cls-b:lru': 1,
        'cls-c:lru': 1,
      });
      expect(await counters(worker.metrics.loads)).toEqual({
        'vad:ok': 1,
        'cls-a:ok': 2,
        'cls-b:ok': 1,
        'cls-c:ok': 1,
      });
      expect((await metricValues(worker.metrics.loadedModels))[0].value).toBe(2);
      // Leases and placement only for what is loaded now.
      expect(await leased('cls-a')).toEqual(['lru-worker']);
      expect(await leased('cls-b')).toEqual([]);
      expect(await placedOn('cls-c')).toEqual([]);
      expect(await placedOn('cls-a')).toEqual(['lru-worker']);
    });

    it('unloads and clears on events-channel commands (clear keeps pinned)', async () => {
      const channel = worker.keys.eventsChannel();
      await waitFor(async () => Number((await worker.redis.pubsub('NUMSUB', channel))[1]) > 0, {
        timeoutMs: 10_000,
        what: 'the worker subscribed',
      });
      await worker.redis.publish(
        worker.keys.eventsChannel(),
        JSON.stringify({ type: 'model-published', model: 'x', version: 1 }),
      );
      await worker.redis.publish(worker.keys.eventsChannel(), JSON.stringify({ type: 'clear' }));
      await waitFor(async () => loaded().length === 1, {
        timeoutMs: 10_000,
        what: 'clear applied',
      });
      expect(loaded()).toEqual(['vad/1']);
      await worker.redis.publish(
        worker.keys.eventsChannel(),
        JSON.stringify({ type: 'unload', model: 'vad', version: 1 }),
      );
      await waitFor(async () => loaded().length === 0, {
        timeoutMs: 10_000,
        what: 'unload applied',
      });
      const evictions = await counters(worker.metrics.evictions);
      expect(evictions['cls-a:manual']).toBe(1);
      expect(evictions['vad:manual']).toBe(1);
      expect(await placedOn('vad')).toEqual([]);
    });

    it('answers a load job with the worker that loaded it', async () => {
      const job = await worker.producer.add('load', { model: 'cls-b', version: 1 });
      const result = await job.waitUntilFinished(worker.events, 30_000);
      expect(result).toMatchObject({
        model: 'cls-b',
        version: 1,
        worker: 'lru-worker',
        alreadyLoaded: false,
      });
      const again = await (
        await worker.producer.add('load', { model: 'cls-b', version: 1 })
      ).waitUntilFinished(worker.events, 30_000);
      expect(again).toMatchObject({ alreadyLoaded: true, loadMs: 0 });
    });
  });

  describe('idle and memory pressure', () => {
    it('unloads idle models after MODEL_IDLE_TTL and under memory pressure', async () => {
      let free = 0.9;
      const worker = await startWorker({
        source,
        env: { MODEL_IDLE_TTL: '1', MEMORY_FREE_THRESHOLD: '0.2' },
        memory: { freeFraction: async () => free },
      });
      try {
        await worker.run({ model: 'cls-a', version: 1, inputs: clsInput(5) });
        await waitFor(async () => worker.pool.size === 0, {
          timeoutMs: 15_000,
          what: 'idle unload',
        });
        await worker.run({ model: 'cls-b', version: 1, inputs: clsInput(6) });
        await worker.run({ model: 'cls-c', version: 1, inputs: clsInput(7) });
        free = 0.1;
        await worker.pool.checkMemory();
        expect(worker.pool.list().map((m) => m.model)).toEqual(['cls-c']);
        const evictions = await counters(worker.metrics.evictions);
        expect(evictions['cls-a:idle']).toBe(1);
        expect(evictions['cls-b:memory']).toBe(1);
      } finally {
        await worker.close();
      }
    });
  });

  describe('cold model', () => {
    it('50 concurrent jobs share one load while another model keeps serving', async () => {
      const worker = await startWorker({ source, env: { INFER_WORKER_CONCURRENCY: '64' } });
      try {
        await worker.run({ model: 'cls-a', version: 1, inputs: clsInput(8) });
        source.delayMs = 500;
        let coldDone = 0;
        const cold = Array.from({ length: 50 }, (_, i) =>
          worker
            .run({ model: 'cold', version: 1, inputs: clsInput(100 + i) })
            .finally(() => (coldDone += 1)),
        );
        await sleep(100);
        // The warm model answers while the cold one is still loading.
        const warm = await worker.run({ model: 'cls-a', version: 1, inputs: clsInput(9) });
        expect(coldDone).toBe(0);
        const results = await Promise.all(cold);
        expect(results).toHaveLength(50);
        expect(warm.model).toBe('cls-a');
        expect(source.ensuredCount('cold/1')).toBe(1);
        expect((await counters(worker.metrics.loads))['cold:ok']).toBe(1);
      } finally {
        source.delayMs = 0;
        await worker.close();
      }
    });
  });
});
