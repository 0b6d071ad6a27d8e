import { randomUUID } from 'node:crypto';
import { bullPrefix, QUEUE, type UsageEvent } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  createTestDatabase,
  deleteRedisPrefix,
  serviceEnv,
  testRedisUrl,
  waitFor,
  type TestDatabase,
} from '@strata/testing';
import { UsageQueryService, type UsageEmitter } from '@strata/usage';
import { Worker, type Queue } from 'bullmq';
import { UsageOutboxRepository } from '../../src/usage/usage-outbox.repository';
import {
  FAST_TELEMETRY_ENV,
  inspectQueue,
  metricValue,
  startPipeline,
  testEmitter,
  type Pipeline,
} from '../support/pipeline';
import { TestSink } from '../support/test-sink';
import { usageEvent } from '../support/usage-events';

interface Emitted {
  events: number;
  items: number;
}

async function emitMany(emitter: UsageEmitter, n: number, sum: Emitted): Promise<void> {
  for (let i = 0; i < n; i++) {
    const e = usageEvent({ model: `m${i % 3}`, items: 1 + (i % 5) });
    emitter.emit(e);
    sum.events += 1;
    sum.items += e.items;
  }
  await emitter.flush();
}

describe('usage pipeline (queue → outbox → sink), in process', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let env: Record<string, string>;
  let emitter: UsageEmitter;
  let queue: Queue;
  let sink: TestSink;
  let pipeline: Pipeline | undefined;

  async function outboxTotals() {
    const [t] = await prisma.$queryRaw<
      { requests: number; items: number; pending: number; rows: number }[]
    >`
      SELECT COALESCE(sum(requests), 0)::int AS requests, COALESCE(sum(items), 0)::int AS items,
             count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*)::int AS rows
        FROM usage_aggregates`;
    return t;
  }

  beforeEach(async () => {
    db = await createTestDatabase('pipeline');
    prisma = createPrismaClient({ databaseUrl: db.url });
    sink = new TestSink();
    await sink.start();
    env = await serviceEnv({
      DATABASE_URL: db.url,
      TELEMETRY_SINK_URL: sink.url,
      ...FAST_TELEMETRY_ENV,
    });
    emitter = testEmitter(testRedisUrl(), env.REDIS_KEY_PREFIX);
    queue = inspectQueue(testRedisUrl(), env.REDIS_KEY_PREFIX);
  });

  afterEach(async () => {
    await pipeline?.stop();
    pipeline = undefined;
    await emitter.close();
    await queue.close();
    await sink.stop();
    await prisma.$disconnect();
    await db.drop();
    await deleteRedisPrefix(env.REDIS_KEY_PREFIX);
  });

  async function deliveredAll(sum: Emitted, timeoutMs = 60_000) {
    await waitFor(
      async () => {
        const t = sink.totals();
        const o = await outboxTotals();
        return t.items === sum.items && o.pending === 0 ? true : undefined;
      },
      {
        timeoutMs,
        intervalMs: 50,
        what: `the sink to hold ${sum.items} items (has ${sink.totals().items})`,
      },
    );
  }

  it('counts every event exactly once in the outbox and delivers it; the queue ends empty', async () => {
    pipeline = await startPipeline(env);
    const sum = { events: 0, items: 0 };
    await emitMany(emitter, 200, sum);
    await deliveredAll(sum);
    expect(sink.totals()).toMatchObject({ items: sum.items, requests: 200 });
    expect(await outboxTotals()).toMatchObject({ requests: 200, items: sum.items, pending: 0 });
    // One consumed id per job: 200 events emitted at once travel as two jobs of 100.
    expect(await prisma.usageConsumedEvent.count()).toBe(2);
    expect(await queue.getJobCounts('waiting', 'active', 'failed')).toMatchObject({
      waiting: 0,
      active: 0,
      failed: 0,
    });
    expect(sink.badBatchKeys).toBe(0);
    expect(sink.missingKeys).toBe(0);
    expect(sink.requests.every((r) => r.rows <= 10)).toBe(true);
    expect(await metricValue(pipeline.registry, 'strata_usage_events_received_total')).toBe(200);
    expect(await metricValue(pipeline.registry, 'strata_usage_aggregates_written_total')).toBe(
      (await outboxTotals()).rows,
    );
    expect(await metricValue(pipeline.registry, 'strata_usage_outbox_pending_rows')).toBe(0);
  });

  it('a sink failing its first posts (500s, then timeouts, resets) gets everything exactly once after it recovers', async () => {
    sink.script([
      '500',
      '500',
      '500',
      'hang',
      'hang',
      'store-then-hang',
      'reset',
      'reset',
      '500',
      'store-then-hang',
      'reset',
    ]);
    pipeline = await startPipeline(env);
    const sum = { events: 0, items: 0 };
    await emitMany(emitter, 300, sum);
    await deliveredAll(sum);
    // Unique keys only: what a sink that honours idempotency keys ends up with.
    expect(sink.totals()).toMatchObject({ items: sum.items, requests: 300 });
    expect(sink.rows.size).toBe((await outboxTotals()).rows);
    // Rows the sink stored without answering came again with the same key and the same content.
    expect(sink.redelivered).toBeGreaterThan(0);
    expect(sink.conflicts).toBe(0);
    expect(sink.badBatchKeys).toBe(0);
    const failures = ['http_error', 'timeout', 'network_error'];
    for (const outcome of failures)
      expect(
        await metricValue(pipeline.registry, 'strata_usage_deliveries_total', { outcome }),
      ).toBeGreaterThan(0);
  });

  it('a sink down for a long outage: the outbox holds everything and delivers it afterwards', async () => {
    await sink.stop();
    pipeline = await startPipeline(env);
    const sum = { events: 0, items: 0 };
    await emitMany(emitter, 200, sum);
    // Many retry rounds against a refused connection…
    await waitFor(
      async () =>
        (await metricValue(pipeline!.registry, 'strata_usage_deliveries_total', {
          outcome: 'network_error',
        })) >= 25 && (await outboxTotals()).requests === 200,
      {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: '25 failed deliveries and all events in the outbox',
      },
    );
    // …lose nothing: every event is in a pending row, nothing marked sent.
    const held = await outboxTotals();
    expect(held).toMatchObject({ requests: 200, items: sum.items });
    expect(held.pending).toBe(held.rows);
    expect(await prisma.usageAggregate.count({ where: { attempts: { gt: 1 } } })).toBeGreaterThan(
      0,
    );
    expect(await metricValue(pipeline.registry, 'strata_usage_outbox_pending_rows')).toBe(
      held.rows,
    );

    await sink.start(sink.port);
    await deliveredAll(sum);
    expect(sink.totals()).toMatchObject({ items: sum.items, requests: 200 });
    expect(sink.conflicts).toBe(0);
  });

  it('without TELEMETRY_SINK_URL the aggregates stay pending and queryable', async () => {
    delete env.TELEMETRY_SINK_URL;
    pipeline = await startPipeline(env);
    expect(pipeline.sender.running).toBe(false);
    const sum = { events: 0, items: 0 };
    await emitMany(emitter, 60, sum);
    await waitFor(async () => (await outboxTotals()).requests === 60, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: '60 events in the outbox',
    });
    const t = await outboxTotals();
    expect(t.pending).toBe(t.rows);
    expect(sink.requests).toHaveLength(0);
    const byModel = await new UsageQueryService(prisma).usageBy({
      from: new Date(Date.now() - 3600_000),
      to: new Date(Date.now() + 3600_000),
      groupBy: 'model',
    });
    expect(byModel.map((r) => [r.group, r.requests])).toEqual([
      ['m0', 20],
      ['m1', 20],
      ['m2', 20],
    ]);
  });

  it('writes what it holds when it stops (below the flush size, before the window ends)', async () => {
    env.TELEMETRY_FLUSH_MAX_EVENTS = '1000';
    env.TELEMETRY_FLUSH_INTERVAL = '300';
    pipeline = await startPipeline(env);
    const sum = { events: 0, items: 0 };
    await emitMany(emitter, 37, sum);
    await waitFor(() => pipeline!.consumer.heldCount === 37, {
      timeoutMs: 20_000,
      intervalMs: 20,
      what: '37 held events',
    });
    expect((await outboxTotals()).requests).toBe(0);
    await pipeline.stop();
    pipeline = undefined;
    expect(await outboxTotals()).toMatchObject({ requests: 37, items: sum.items });
    expect(await queue.getJobCounts('waiting', 'active')).toMatchObject({ waiting: 0, active: 0 });
  });

  it('a job replayed after its aggregate was committed (crash before completing) is not counted again', async () => {
    const sum = { events: 0, items: 0 };
    await emitMany(emitter, 30, sum);
    // Play a sender that commits and dies before completing: fetch, commit, never complete.
    const token = randomUUID();
    const doomed = new Worker(QUEUE.usage, null, {
      connection: { url: testRedisUrl(), maxRetriesPerRequest: null },
      prefix: bullPrefix(env.REDIS_KEY_PREFIX),
      autorun: false,
      lockDuration: 1000,
    });
    const held = [];
    for (;;) {
      const job = await doomed.getNextJob(token, { block: false });
      if (!job) break;
      held.push(job);
    }
    expect(held.length).toBeGreaterThan(0);
    const outbox = new UsageOutboxRepository(prisma);
    expect(
      await outbox.commitFlush(
        held.flatMap((j) =>
          (j.data.events as UsageEvent[]).map((event, seq) => ({
            jobId: String(j.id),
            seq,
            event,
          })),
        ),
        10_000,
      ),
    ).toMatchObject({ counted: 30 });
    // force: no waiting for its (never completed) jobs; their locks just lapse.
    await doomed.close(true);
    expect(await queue.getJobCounts('active')).toMatchObject({ active: held.length });

    // A sender starts: the stalled check returns the jobs, the consumer takes them, sees their ids.
    env.TELEMETRY_FLUSH_MAX_EVENTS = '30';
    pipeline = await startPipeline(env);
    await waitFor(
      async () =>
        (await queue.getJobCounts('active', 'waiting')).active === 0 &&
        (await metricValue(pipeline!.registry, 'strata_usage_events_replayed_total')) === 30,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: 'the 30 events replayed and ignored',
      },
    );
    await deliveredAll(sum);
    expect(await outboxTotals()).toMatchObject({ requests: 30, items: sum.items });
    expect(sink.totals().requests).toBe(30);
    expect(await queue.getJobCounts('waiting', 'active', 'failed')).toMatchObject({
      waiting: 0,
      active: 0,
      failed: 0,
    });
  });

  it('moves an unreadable job to the failed set instead of blocking the queue', async () => {
    pipeline = await startPipeline(env);
    await queue.add('record', { nonsense: true } as never);
    const sum = { events: 0, items: 0 };
    // The bad job holds no event: 20 good ones make one flush of TELEMETRY_FLUSH_MAX_EVENTS.
    await emitMany(emitter, 20, sum);
    await deliveredAll(sum);
    await waitFor(async () => (await queue.getJobCounts('failed')).failed === 1, {
      timeoutMs: 20_000,
      what: 'the bad job in failed',
    });
    expect(await metricValue(pipeline.registry, 'strata_usage_events_invalid_total')).toBe(1);
  });

  it('counts one-event `record` jobs of older emitters and keeps the good events of a `records` job with a bad one', async () => {
    pipeline = await startPipeline(env);
    const old = [usageEvent({ items: 3 }), usageEvent({ items: 4 })];
    for (const e of old) await queue.add('record', e);
    // A batch with one foreign event: its 17 good events count, the bad one is dropped.
    const batch = Array.from({ length: 17 }, (_, i) => usageEvent({ items: 10 + i }));
    await queue.add('records', {
      events: [...batch.slice(0, 5), { nonsense: true }, ...batch.slice(5)],
    } as never);
    // And one batch that is not a batch at all: failed as a whole, kept for inspection.
    await queue.add('records', { events: 'nope' } as never);
    const sum = {
      events: 19,
      items: [...old, ...batch].reduce((n, e) => n + e.items, 0),
    };
    // 2 + 17 + 1 = one flush of TELEMETRY_FLUSH_MAX_EVENTS.
    await emitMany(emitter, 1, sum);
    await deliveredAll(sum);
    expect(await outboxTotals()).toMatchObject({ requests: 20, items: sum.items });
    await waitFor(async () => (await queue.getJobCounts('failed')).failed === 1, {
      timeoutMs: 20_000,
      what: 'the unreadable batch in failed',
    });
    expect(await metricValue(pipeline.registry, 'strata_usage_events_received_total')).toBe(20);
    expect(await metricValue(pipeline.registry, 'strata_usage_events_invalid_total')).toBe(2);
  });
});
