import { RedisKeys, KeySegmentError } from '@strata/cache-keys';
import { deleteRedisPrefix, testRedisPrefix, testRedisUrl } from '@strata/testing';
import { RecentInferenceReader } from '@strata/usage';
import { Redis } from 'ioredis';

// Writes exactly as apps/inference-worker's RecentInferenceRepository does: per model and worker a
// sorted set (score = finish time, member = JSON), the worker registered in recentWorkers(model).
async function writeLikeWorker(
  redis: Redis,
  keys: RedisKeys,
  model: string,
  worker: string,
  kind: 'ok' | 'err',
  member: Record<string, unknown> | string,
  at: number,
) {
  const key =
    kind === 'ok' ? keys.recentInferences(model, worker) : keys.recentErrors(model, worker);
  await redis
    .multi()
    .zadd(key, at, typeof member === 'string' ? member : JSON.stringify(member))
    .expire(key, 120)
    .zadd(keys.recentWorkers(model), at, worker)
    .expire(keys.recentWorkers(model), 120)
    .exec();
}

describe('RecentInferenceReader', () => {
  const prefix = testRedisPrefix('recent');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let reader: RecentInferenceReader;

  beforeAll(async () => {
    redis = new Redis(testRedisUrl());
    reader = new RecentInferenceReader(redis, keys);
    const t = 1_790_000_000_000;
    for (let i = 0; i < 5; i++) {
      await writeLikeWorker(
        redis,
        keys,
        'resnet',
        'w-a',
        'ok',
        { id: `a${i}`, version: 3, ms: 1.5, batch: 2, at: t + i * 10 },
        t + i * 10,
      );
      await writeLikeWorker(
        redis,
        keys,
        'resnet',
        'w-b',
        'ok',
        { id: `b${i}`, version: 3, ms: 2, batch: 1, at: t + i * 10 + 5 },
        t + i * 10 + 5,
      );
    }
    await writeLikeWorker(
      redis,
      keys,
      'resnet',
      'w-b',
      'err',
      { id: 'e1', version: 3, code: 'INVALID_INPUT', message: 'bad shape', at: t + 7 },
      t + 7,
    );
    await writeLikeWorker(
      redis,
      keys,
      'resnet',
      'w-a',
      'err',
      { id: 'e2', version: 2, code: 'MODEL_LOAD_FAILED', message: 'gone', at: t + 100 },
      t + 100,
    );
    // A member from some other writer: skipped, not fatal.
    await writeLikeWorker(redis, keys, 'resnet', 'w-a', 'ok', 'not json', t + 1000);
    await writeLikeWorker(
      redis,
      keys,
      'other',
      'w-a',
      'ok',
      { id: 'x', version: 1, ms: 1, batch: 1, at: t },
      t,
    );
  });

  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('merges every worker of the model, newest first, at most n', async () => {
    const r = await reader.recent('resnet', 4);
    expect(r.model).toBe('resnet');
    expect(r.inferences.map((i) => i.id)).toEqual(['b4', 'a4', 'b3', 'a3']);
    expect(r.inferences[0]).toEqual({
      worker: 'w-b',
      id: 'b4',
      version: 3,
      ms: 2,
      batch: 1,
      at: 1_790_000_000_045,
    });
    expect(r.errors.map((e) => [e.id, e.worker, e.code, e.message])).toEqual([
      ['e2', 'w-a', 'MODEL_LOAD_FAILED', 'gone'],
      ['e1', 'w-b', 'INVALID_INPUT', 'bad shape'],
    ]);
  });

  it('returns all when n exceeds what is there, and nothing for a model without records', async () => {
    expect((await reader.recent('resnet', 100)).inferences).toHaveLength(10);
    expect(await reader.recent('unknown-model', 10)).toEqual({
      model: 'unknown-model',
      inferences: [],
      errors: [],
    });
  });

  it('refuses a model name that cannot be part of a key', async () => {
    await expect(reader.recent('../etc', 5)).rejects.toThrow(KeySegmentError);
  });
});
