import { bullPrefix, QUEUE, typedProducer, type UsageEvent } from '@strata/cache-keys';
import {
  deleteRedisPrefix,
  serviceEnv,
  spawnProcess,
  testRedisPrefix,
  testRedisUrl,
  type SpawnedService,
} from '@strata/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import * as path from 'node:path';

const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);

const event: UsageEvent = {
  apiKeyHash: 'k'.repeat(64),
  workspace: 'acme',
  model: 'resnet',
  version: 1,
  category: 'infer',
  items: 1,
  computeMs: 3,
  cached: false,
  outcome: 'ok',
  startedAt: 1,
  finishedAt: 2,
};

async function start(script: string, prefix: string): Promise<SpawnedService> {
  const env = await serviceEnv({ REDIS_KEY_PREFIX: prefix });
  return spawnProcess({
    name: script,
    script: fixture(script),
    env,
    port: Number(env.TELEMETRY_SENDER_PORT),
  });
}

describe('queue-worker host in a service process', () => {
  const prefix = testRedisPrefix('qw');
  let connection: Redis;
  let queue: Queue;
  let proc: SpawnedService | undefined;

  beforeAll(() => {
    connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    queue = new Queue(QUEUE.usage, { connection, prefix: bullPrefix(prefix) });
  });

  afterEach(async () => {
    if (proc) await proc.stop(5000);
    proc = undefined;
  });

  afterAll(async () => {
    await queue.close();
    connection.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('finishes the active job on SIGTERM, then exits 0', async () => {
    proc = await start('usage-worker.fixture.js', prefix);
    await proc.waitForReady();
    const job = await typedProducer('usage', queue).add('record', event);
    await proc.waitForLog((r) => r.msg === 'job started' && r.jobId === job.id);

    proc.sigterm();
    const exit = await proc.exited;

    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(await queue.getJobState(job.id!)).toBe('completed');
    const order = proc.logs.map((r) => r.msg);
    expect(order.indexOf('job finished')).toBeGreaterThan(order.indexOf('job started'));
    expect(order.indexOf('shutdown complete')).toBeGreaterThan(order.indexOf('job finished'));
  });

  it('refuses to start when a job of the queue has no handler', async () => {
    proc = await start('missing-handler.fixture.js', prefix);
    const exit = await proc.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const fatal = proc.logs.find((r) => r.level === 'fatal');
    expect(fatal?.msg).toMatch(/no handler for jobs record, records/);
    expect(proc.output()).toContain('MissingJobHandlerError');
  });
});
