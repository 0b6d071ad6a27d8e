import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  createTestDatabase,
  deleteRedisPrefix,
  serviceEnv,
  spawnService,
  testRedisUrl,
  waitFor,
  type SpawnedService,
  type TestDatabase,
} from '@strata/testing';
import type { UsageEmitter } from '@strata/usage';
import type { Queue } from 'bullmq';
import { inspectQueue, testEmitter } from '../support/pipeline';
import { TestSink } from '../support/test-sink';
import { usageEvent } from '../support/usage-events';

const KILLS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The exactly-once claim, end to end: the built telemetry-sender is killed with SIGKILL at random
 * moments while events keep arriving (20 times), restarted each time; in the end the sink — which
 * keeps one row per idempotency key, as a real sink must — holds exactly what was emitted.
 */
describe('telemetry-sender under SIGKILL (built dist/main.js)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let sink: TestSink;
  let env: Record<string, string>;
  let emitter: UsageEmitter;
  let queue: Queue;
  let service: SpawnedService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('crash');
    prisma = createPrismaClient({ databaseUrl: db.url });
    sink = new TestSink();
    sink.latencyMs = 40;
    await sink.start();
    env = await serviceEnv({
      DATABASE_URL: db.url,
      TELEMETRY_SINK_URL: sink.url,
      TELEMETRY_FLUSH_MAX_EVENTS: '25',
      TELEMETRY_JOB_LOCK_MS: '1500',
      TELEMETRY_BATCH_SIZE: '5',
      TELEMETRY_SEND_INTERVAL_MS: '50',
      TELEMETRY_RETRY_BASE_MS: '20',
      TELEMETRY_RETRY_MAX_MS: '200',
      TELEMETRY_SINK_TIMEOUT_MS: '1000',
      SHUTDOWN_TIMEOUT: '20',
    });
    emitter = testEmitter(testRedisUrl(), env.REDIS_KEY_PREFIX);
    queue = inspectQueue(testRedisUrl(), env.REDIS_KEY_PREFIX);
  });

  afterAll(async () => {
    if (service) await service.stop(2000);
    await emitter.close();
    await queue.close();
    await sink.stop();
    await prisma.$disconnect();
    await db.drop();
    await deleteRedisPrefix(env.REDIS_KEY_PREFIX);
  });

  it(`loses nothing and counts nothing twice across ${KILLS} kills under load`, async () => {
    const emitted = { events: 0, items: 0 };
    let emitting = true;
    const load = (async () => {
      let i = 0;
      while (emitting) {
        for (let k = 0; k < 2; k++) {
          i += 1;
          const e = usageEvent({
            model: `m${i % 4}`,
            items: 1 + (i % 9),
            apiKeyHash: String(i % 3).repeat(64),
          });
          emitter.emit(e);
          emitted.events += 1;
          emitted.items += e.items;
        }
        await sleep(5);
      }
    })();

    for (let n = 0; n < KILLS; n++) {
      service = spawnService('telemetry-sender', env);
      await service.waitForReady(30_000);
      await sleep(200 + Math.floor(Math.random() * 1300));
      service.kill('SIGKILL');
      expect((await service.exited).signal).toBe('SIGKILL');
    }

    emitting = false;
    await load;
    await emitter.flush();
    expect(emitter.buffered).toBe(0);

    // One last sender, left alone: the jobs of the killed ones come back (stalled check) and the
    // tail is written at the end of its window.
    service = spawnService('telemetry-sender', env);
    await service.waitForReady(30_000);
    await waitFor(
      async () => {
        const t = sink.totals();
        const counts = await queue.getJobCounts('waiting', 'active');
        const pending = await prisma.usageAggregate.count({ where: { status: 'pending' } });
        return t.requests === emitted.events &&
          counts.waiting === 0 &&
          counts.active === 0 &&
          pending === 0
          ? true
          : undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 200,
        what: `the sink to hold all ${emitted.events} events (has ${sink.totals().requests})`,
      },
    );

    const totals = sink.totals();
    expect(totals.requests).toBe(emitted.events);
    expect(totals.items).toBe(emitted.items);
    // One row per key at the sink, and a redelivered key always carried the same content.
    expect(sink.conflicts).toBe(0);
    expect(sink.missingKeys).toBe(0);
    expect(sink.badBatchKeys).toBe(0);
    // The outbox agrees: every job id counted once, every row delivered.
    const [outbox] = await prisma.$queryRaw<{ requests: number; items: number; rows: number }[]>`
      SELECT sum(requests)::int AS requests, sum(items)::int AS items, count(*)::int AS rows FROM usage_aggregates`;
    expect(outbox).toEqual({
      requests: emitted.events,
      items: emitted.items,
      rows: sink.rows.size,
    });
    // One consumed id per job, and jobs carry batches: fewer ids than events (exactness is the
    // totals above: every event in exactly one delivered row).
    const consumedIds = await prisma.usageConsumedEvent.count();
    expect(consumedIds).toBeGreaterThan(0);
    expect(consumedIds).toBeLessThan(emitted.events);
    expect(await queue.getJobCounts('failed')).toMatchObject({ failed: 0 });

    const exit = await service.stop(20_000);
    expect(exit.code).toBe(0);
    service = undefined;
    // For the record: redeliveries the sink dropped by key (kills between a 2xx and marking sent).
    process.stdout.write(
      `crash-recovery: ${emitted.events} events, ${sink.rows.size} rows, ${sink.redelivered} redelivered rows dropped by key\n`,
    );
  });
});
