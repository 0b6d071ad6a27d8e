import {
  JobError,
  QUEUE,
  RedisKeys,
  bullPrefix,
  encodeJobFailure,
  serializeInferAnswer,
  type InferJobData,
} from '@strata/cache-keys';
import {
  createRedisClient,
  redisOptionsFor,
  type RedisClient,
  type RedisRole,
} from '@strata/service-kit';
import {
  deleteRedisPrefix,
  parseHostPort,
  startRedisCluster,
  testRedisPrefix,
  testRedisUrl,
  waitFor,
  type RedisClusterFixture,
  type RedisTopology,
} from '@strata/testing';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import pino from 'pino';
import { GatewayError } from '../../src/http/http-errors';
import { InferQueue } from '../../src/inference/infer-queue.adapter';

const logger = pino({ level: 'silent' });
/** Longer than any test: a test that passes with it was answered by a notice, not the poll. */
const NEVER_MS = 10 * 60_000;

/**
 * What the test worker does per job, by the job's `model`: answer, fail, answer too large for a
 * message (only the id is published), or finish without publishing (a lost notice).
 */
type Mode = 'ok' | 'fail' | 'big' | 'silent' | 'silent-fail' | 'gated';

function data(mode: Mode, deadline = Date.now() + 60_000): InferJobData {
  return { model: mode, version: 1, inputs: [], deadline };
}

/**
 * The gateway's InferQueue against real Redis, with a BullMQ worker that publishes answers the
 * way the inference-worker does (after BullMQ recorded the outcome on the job).
 */
describe('infer answers: reply channel, state poll, timeout (real Redis)', () => {
  let prefix: string;
  let keys: RedisKeys;
  let publisher: Redis;
  let workerConnection: Redis;
  let worker: Worker;
  let inspect: Queue;
  let gate: { open: () => void; opened: Promise<void> };
  const opened: Redis[] = [];
  const queues: InferQueue[] = [];

  const redis = async (options: RedisOptions = {}): Promise<Redis> => {
    const client = new Redis(testRedisUrl(), options);
    opened.push(client);
    if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
    return client;
  };

  const gateway = async (
    pollMs: number,
    options: { prefix?: string; subscriber?: RedisOptions } = {},
  ): Promise<{ infer: InferQueue; replyTo: string; subscriber: Redis; queue: Queue }> => {
    const connection = await redis({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const subscriber = await redis({ maxRetriesPerRequest: null, ...options.subscriber });
    const queue = new Queue(QUEUE.infer, {
      connection,
      prefix: bullPrefix(options.prefix ?? prefix),
    });
    const replyTo = keys.inferAnswers(`gw-${queues.length}`);
    const infer = new InferQueue({
      queue,
      connection,
      subscriber,
      replyTo,
      logger,
      maxInFlight: 10,
      pollMs,
    });
    queues.push(infer);
    await infer.ready();
    return { infer, replyTo, subscriber, queue };
  };

  const newGate = () => {
    let open!: () => void;
    const openedPromise = new Promise<void>((resolve) => (open = resolve));
    gate = { open, opened: openedPromise };
  };

  beforeAll(async () => {
    prefix = testRedisPrefix('gwans');
    keys = new RedisKeys(prefix);
    publisher = await redis();
    inspect = new Queue(QUEUE.infer, { connection: publisher, prefix: bullPrefix(prefix) });
    workerConnection = await redis({ maxRetriesPerRequest: null });
    newGate();
    worker = new Worker(
      QUEUE.infer,
      async (job: Job<InferJobData>) => {
        const mode = job.data.model as Mode;
        if (mode === 'gated') await gate.opened;
        if (mode === 'fail' || mode === 'silent-fail')
          throw new UnrecoverableError(encodeJobFailure('INVALID_INPUT', `bad input of ${job.id}`));
        return { echo: job.id, mode };
      },
      { connection: workerConnection, prefix: bullPrefix(prefix), concurrency: 4 },
    );
    const replyOf = (job: Job<InferJobData>) => job.data.replyTo as string;
    worker.on('completed', (job: Job<InferJobData>, result: unknown) => {
      const mode = job.data.model as Mode;
      if (mode === 'silent') return;
      const id = job.id as string;
      void publisher.publish(
        replyOf(job),
        serializeInferAnswer(mode === 'big' ? { id } : { id, r: result }),
      );
    });
    worker.on('failed', (job: Job<InferJobData> | undefined) => {
      if (!job?.finishedOn || job.data.model === 'silent-fail') return;
      void publisher.publish(
        replyOf(job),
        serializeInferAnswer({ id: job.id as string, e: job.failedReason }),
      );
    });
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    gate?.open();
    await worker?.close();
    await inspect?.close();
    for (const q of queues) await q.close();
    for (const c of opened) c.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('answers by the notice on its own channel, and the job keeps its result', async () => {
    const { infer, replyTo, queue } = await gateway(NEVER_MS);
    const result = await infer.submit('run', data('ok'), { timeoutMs: 30_000, jobId: 'ok-1' });
    expect(result).toEqual({ echo: 'ok-1', mode: 'ok' });
    const job = await queue.getJob('ok-1');
    expect(job?.data.replyTo).toBe(replyTo);
    expect(job?.returnvalue).toEqual({ echo: 'ok-1', mode: 'ok' });
    expect(infer.inFlight).toBe(0);
  });

  it("keeps the worker's error code: a failure notice becomes the same JobError", async () => {
    const { infer } = await gateway(NEVER_MS);
    const err = await infer
      .submit('run', data('fail'), { timeoutMs: 30_000, jobId: 'fail-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobError);
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: 'bad input of fail-1' });
  });

  it('reads a result too large for a message from the job', async () => {
    const { infer } = await gateway(NEVER_MS);
    const result = await infer.submit('run', data('big'), { timeoutMs: 30_000, jobId: 'big-1' });
    expect(result).toEqual({ echo: 'big-1', mode: 'big' });
  });

  it('recovers a lost notice by reading the job state (result and failure)', async () => {
    const { infer } = await gateway(100);
    const [ok, failed] = await Promise.allSettled([
      infer.submit('run', data('silent'), { timeoutMs: 30_000, jobId: 'silent-1' }),
      infer.submit('run', data('silent-fail'), { timeoutMs: 30_000, jobId: 'silent-2' }),
    ]);
    expect(ok).toEqual({ status: 'fulfilled', value: { echo: 'silent-1', mode: 'silent' } });
    expect(failed.status).toBe('rejected');
    const reason = (failed as PromiseRejectedResult).reason as JobError;
    expect(reason).toBeInstanceOf(JobError);
    expect(reason.code).toBe('INVALID_INPUT');
  });

  it('after its subscriber reconnects, reads at once the jobs answered meanwhile', async () => {
    // Reconnects 400 ms after a drop: the answer is published while nobody listens.
    const { infer, subscriber } = await gateway(NEVER_MS, {
      subscriber: { retryStrategy: () => 400 },
    });
    newGate();
    const answer = infer.submit('run', data('gated'), { timeoutMs: 30_000, jobId: 'gated-1' });
    await waitFor(async () => (await inspect.getJobState('gated-1')) === 'active', {
      what: 'the job to be taken',
      intervalMs: 20,
    });
    const dropped = new Promise((resolve) => subscriber.once('close', resolve));
    subscriber.disconnect(true);
    await dropped;
    gate.open();
    await waitFor(async () => (await finishedOn('gated-1')) !== null, {
      what: 'the job to finish',
      intervalMs: 20,
    });
    expect(subscriber.status).not.toBe('ready');
    await expect(answer).resolves.toEqual({ echo: 'gated-1', mode: 'gated' });
  });

  it('times out with 504, removes the job nobody took, and ignores a late answer', async () => {
    // A prefix no worker consumes: the job stays waiting.
    const idle = testRedisPrefix('gwans-idle');
    try {
      const { infer, replyTo, queue } = await gateway(50, { prefix: idle });
      let abandoned = 0;
      const err = await infer
        .submit('run', data('ok'), {
          timeoutMs: 300,
          jobId: 'late-1',
          onAbandoned: () => abandoned++,
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(504);
      await waitFor(() => abandoned === 1, { what: 'the job to be removed' });
      expect(await queue.getJob('late-1')).toBeUndefined();
      await publisher.publish(replyTo, serializeInferAnswer({ id: 'late-1', r: { late: true } }));
      expect(infer.inFlight).toBe(0);
    } finally {
      await deleteRedisPrefix(idle);
    }
  });

  it('hears only its own answers: each gateway gets its jobs on its channel', async () => {
    const a = await gateway(NEVER_MS);
    const b = await gateway(NEVER_MS);
    const [ra, rb] = await Promise.all([
      a.infer.submit('run', data('ok'), { timeoutMs: 30_000, jobId: 'own-a' }),
      b.infer.submit('run', data('ok'), { timeoutMs: 30_000, jobId: 'own-b' }),
    ]);
    expect([ra, rb]).toEqual([
      { echo: 'own-a', mode: 'ok' },
      { echo: 'own-b', mode: 'ok' },
    ]);
    expect(a.replyTo).not.toBe(b.replyTo);
  });

  async function finishedOn(jobId: string): Promise<string | null> {
    return publisher.hget(inspect.toKey(jobId), 'finishedOn');
  }
});

/**
 * On Redis Cluster: the job's keys share the queue's hash tag (one pipelined state read), and
 * the reply channel is plain PUBLISH/SUBSCRIBE, which a Cluster delivers to a subscriber on any
 * node. Connections as the services make them (@strata/redis-topology, service-kit roles).
 */
describe('infer answers on Redis Cluster', () => {
  let cluster: RedisClusterFixture;
  let topology: RedisTopology;
  const open: RedisClient[] = [];
  const prefix = testRedisPrefix('gwans-cl');
  const keys = new RedisKeys(prefix);
  let worker: Worker;
  let infer: InferQueue;

  const client = async (role: RedisRole, name: string): Promise<RedisClient> => {
    const c = createRedisClient(topology, redisOptionsFor(role, name));
    c.on('error', () => undefined);
    open.push(c);
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    return c;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
    topology = { kind: 'cluster', nodes: cluster.nodes.map(parseHostPort) };
    const publisher = await client('cache', 'publisher');
    worker = new Worker(
      QUEUE.infer,
      async (job: Job<InferJobData>) => ({ echo: job.id, mode: job.data.model }),
      { connection: await client('worker', 'worker'), prefix: bullPrefix(prefix) },
    );
    worker.on('completed', (job: Job<InferJobData>, result: unknown) => {
      if (job.data.model === 'silent') return;
      void publisher.publish(
        job.data.replyTo as string,
        serializeInferAnswer({ id: job.id as string, r: result }),
      );
    });
    await worker.waitUntilReady();
    const connection = await client('producer', 'infer-queue');
    infer = new InferQueue({
      queue: new Queue(QUEUE.infer, { connection, prefix: bullPrefix(prefix) }),
      connection,
      subscriber: await client('worker', 'infer-answers'),
      replyTo: keys.inferAnswers('gw-cluster'),
      logger,
      maxInFlight: 10,
      pollMs: 100,
    });
    await infer.ready();
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await infer?.close();
    for (const c of open) c.disconnect();
    await cluster?.stop();
  });

  it('answers by notice, and by the state poll when the notice is lost', async () => {
    const [noticed, polled] = await Promise.all([
      infer.submit('run', data('ok'), { timeoutMs: 30_000, jobId: 'cl-ok' }),
      infer.submit('run', data('silent'), { timeoutMs: 30_000, jobId: 'cl-silent' }),
    ]);
    expect(noticed).toEqual({ echo: 'cl-ok', mode: 'ok' });
    expect(polled).toEqual({ echo: 'cl-silent', mode: 'silent' });
  });
});
