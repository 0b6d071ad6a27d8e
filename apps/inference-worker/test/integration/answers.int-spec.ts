import { decodeJobFailure, type RedisKeys } from '@strata/cache-keys';
import { testRedisUrl, waitFor } from '@strata/testing';
import { Redis } from 'ioredis';
import { InferAnswerPublisher } from '../../src/redis/infer-answer.publisher';
import { f32Tensor } from '../support/direct-ort';
import { DirectoryModelSource } from '../support/directory-model-source';
import { REAL_MODELS, randomF32 } from '../support/real-models';
import { startWorker, type WorkerHarness } from '../support/worker-harness';

const SHAPE = [1, 3, 48, 192];
const clsInput = (seed: number) => [f32Tensor('x', SHAPE, randomF32(3 * 48 * 192, seed))];

describe("infer answers: the worker tells the job's gateway once the outcome is recorded", () => {
  let source: DirectoryModelSource;
  let worker: WorkerHarness;
  let keys: RedisKeys;
  let subscriber: Redis;
  let replyTo: string;
  /** Messages on `replyTo`, each with the job's `finishedOn` read when it arrived. */
  const heard: { message: Record<string, unknown>; finishedOn: string | null }[] = [];
  let reading = Promise.resolve();

  beforeAll(async () => {
    source = await DirectoryModelSource.create();
    await source.install('cls', 1, REAL_MODELS.classifier);
    worker = await startWorker({ source, env: { WORKER_ID: 'answers-worker' } });
    keys = worker.keys;
    replyTo = keys.inferAnswers('gw-test');
    subscriber = new Redis(testRedisUrl());
    subscriber.on('message', (_channel: string, text: string) => {
      const message = JSON.parse(text) as Record<string, unknown>;
      // In arrival order, so `heard` keeps the order of the messages.
      reading = reading.then(async () => {
        const finishedOn = await worker.redis.hget(
          worker.queue.toKey(String(message.id)),
          'finishedOn',
        );
        heard.push({ message, finishedOn });
      });
    });
    await subscriber.subscribe(replyTo);
  });

  afterAll(async () => {
    subscriber?.disconnect();
    await worker?.close();
    await source?.remove();
  });

  /** A `run` job of the classifier; `extra` adds to (or, with `replyTo`, replaces) its data. */
  const run = (inputs: ReturnType<typeof clsInput>, extra: object = { replyTo }, opts = {}) =>
    worker.producer.add(
      'run',
      { model: 'cls', version: 1, inputs, deadline: Date.now() + 60_000, ...extra },
      opts,
    );

  const heardFor = (id: string) =>
    waitFor(() => heard.find((h) => h.message.id === id), { what: `the answer of ${id}` });

  it('publishes the result on the reply channel after BullMQ recorded it on the job', async () => {
    const job = await run(clsInput(1));
    const result = await job.waitUntilFinished(worker.events, 60_000);
    const { message, finishedOn } = await heardFor(job.id as string);
    expect(message).toEqual({ id: job.id, r: result });
    expect(finishedOn).not.toBeNull();
  });

  it('publishes a final failure as recorded (code kept), once', async () => {
    const job = await run(
      [f32Tensor('x', [1, 3, 48], randomF32(3 * 48, 2))],
      { replyTo },
      { attempts: 3, backoff: 10 },
    );
    await job.waitUntilFinished(worker.events, 60_000).catch(() => undefined);
    const { message, finishedOn } = await heardFor(job.id as string);
    expect(finishedOn).not.toBeNull();
    expect(decodeJobFailure(message.e as string).code).toBe('INVALID_INPUT');
    await reading;
    expect(heard.filter((h) => h.message.id === job.id)).toHaveLength(1);
  });

  it('sends nothing for a job without a reply channel, or one outside the deployment', async () => {
    const before = heard.length;
    const foreign = replyTo.replace(worker.prefix, `${worker.prefix}x`);
    const other = new Redis(testRedisUrl());
    const foreignHeard: string[] = [];
    other.on('message', (_c: string, m: string) => foreignHeard.push(m));
    await other.subscribe(foreign);
    try {
      for (const extra of [{}, { replyTo: foreign }]) {
        const job = await run(clsInput(3), extra);
        await job.waitUntilFinished(worker.events, 60_000);
      }
      // A job with an answer afterwards: everything published before it has arrived by then.
      const last = await run(clsInput(4));
      await heardFor(last.id as string);
      expect(heard.slice(before).map((h) => h.message.id)).toEqual([last.id]);
      expect(foreignHeard).toEqual([]);
    } finally {
      other.disconnect();
    }
  });

  it('sends only the job id when the result is too large for a message', async () => {
    const publisher = new InferAnswerPublisher(
      worker.redis,
      keys,
      (err) => {
        throw err;
      },
      64,
    );
    publisher.completed({ id: 'big-1', data: { replyTo } }, { outputs: 'x'.repeat(100) });
    publisher.completed({ id: 'small-1', data: { replyTo } }, { ok: 1 });
    expect((await heardFor('big-1')).message).toEqual({ id: 'big-1' });
    expect((await heardFor('small-1')).message).toEqual({ id: 'small-1', r: { ok: 1 } });
  });
});
