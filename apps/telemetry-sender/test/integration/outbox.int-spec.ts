import { createPrismaClient, type PrismaClient } from '@strata/db';
import { createTestDatabase, type TestDatabase } from '@strata/testing';
import type { ConsumedEvent } from '../../src/usage/usage-aggregator';
import { UsageOutboxRepository } from '../../src/usage/usage-outbox.repository';
import { usageEvent } from '../support/usage-events';

const W = 10_000;

function events(ids: string[], patch: Parameters<typeof usageEvent>[0] = {}): ConsumedEvent[] {
  return ids.map((jobId) => ({ jobId, event: usageEvent({ items: 2, ...patch }) }));
}

function range(from: number, to: number, prefix = 'j'): string[] {
  return Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);
}

describe('UsageOutboxRepository', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let other: PrismaClient;
  let outbox: UsageOutboxRepository;

  async function totals() {
    const [t] = await prisma.$queryRaw<{ requests: number; items: number; rows: number }[]>`
      SELECT COALESCE(sum(requests), 0)::int AS requests, COALESCE(sum(items), 0)::int AS items,
             count(*)::int AS rows FROM usage_aggregates`;
    return t;
  }

  beforeEach(async () => {
    db = await createTestDatabase('outbox');
    prisma = createPrismaClient({ databaseUrl: db.url });
    other = createPrismaClient({ databaseUrl: db.url });
    outbox = new UsageOutboxRepository(prisma);
  });

  afterEach(async () => {
    await prisma.$disconnect();
    await other.$disconnect();
    await db.drop();
  });

  it('counts an event once: a replayed flush writes nothing, an overlapping one only the new ids', async () => {
    expect(await outbox.commitFlush(events(range(0, 50)), W)).toEqual({
      counted: 50,
      replayed: 0,
      rows: 1,
    });
    expect(await outbox.commitFlush(events(range(0, 50)), W)).toEqual({
      counted: 0,
      replayed: 50,
      rows: 0,
    });
    expect(await outbox.commitFlush(events(range(40, 60)), W)).toEqual({
      counted: 10,
      replayed: 10,
      rows: 1,
    });
    // The same id twice within one batch is one event.
    expect(await outbox.commitFlush([...events(['dup']), ...events(['dup'])], W)).toMatchObject({
      counted: 1,
    });
    expect(await totals()).toEqual({ requests: 61, items: 122, rows: 3 });
  });

  it('two senders committing overlapping batches at once still count each event once', async () => {
    const second = new UsageOutboxRepository(other);
    const a = events(range(0, 300));
    const b = events(range(150, 450));
    const results = await Promise.all([
      outbox.commitFlush(a, W),
      second.commitFlush(b, W),
      outbox.commitFlush(events(range(100, 200)), W),
    ]);
    expect(results.reduce((n, r) => n + r.counted, 0)).toBe(450);
    expect((await totals()).requests).toBe(450);
    expect(await prisma.usageConsumedEvent.count()).toBe(450);
  });

  it('leaves nothing behind when the transaction fails', async () => {
    const bad = events(['x1', 'x2'], { version: 2 ** 40 } as never);
    await expect(outbox.commitFlush(bad, W)).rejects.toThrow();
    expect(await prisma.usageConsumedEvent.count()).toBe(0);
    expect((await totals()).rows).toBe(0);
    // The ids were not taken: a later good flush counts them.
    expect((await outbox.commitFlush(events(['x1', 'x2']), W)).counted).toBe(2);
  });

  describe('claims', () => {
    async function seedRows(n: number) {
      // One row per model, so n rows.
      for (let i = 0; i < n; i++)
        await outbox.commitFlush(events([`c${i}`], { model: `m${i}` }), W);
    }

    it('two senders claiming at once get disjoint rows (FOR UPDATE SKIP LOCKED)', async () => {
      await seedRows(40);
      const second = new UsageOutboxRepository(other);
      const claims = await Promise.all([
        outbox.claimDue(15, 60_000),
        second.claimDue(15, 60_000),
        outbox.claimDue(15, 60_000),
        second.claimDue(15, 60_000),
      ]);
      const ids = claims.flat().map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(40);
      expect(claims.flat().every((r) => r.attempts === 1)).toBe(true);
    });

    it('a claimed row is not claimable again until its lease ends or it is rescheduled', async () => {
      await seedRows(3);
      const first = await outbox.claimDue(10, 60_000);
      expect(first).toHaveLength(3);
      expect(await outbox.claimDue(10, 60_000)).toEqual([]);
      await outbox.markFailed([first[0].id], 0, 'sink answered 500');
      const again = await outbox.claimDue(10, 60_000);
      expect(again.map((r) => r.id)).toEqual([first[0].id]);
      expect(again[0].attempts).toBe(2);
      const row = await prisma.usageAggregate.findUniqueOrThrow({ where: { id: first[0].id } });
      expect(row.lastError).toBe('sink answered 500');
    });

    it('a sender that died leaves its rows claimable after the lease', async () => {
      await seedRows(2);
      expect(await outbox.claimDue(10, 1)).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 20));
      expect(await outbox.claimDue(10, 60_000)).toHaveLength(2);
    });

    it('sent rows leave the outbox; stats count what is pending and how old it is', async () => {
      await seedRows(4);
      const rows = await outbox.claimDue(2, 60_000);
      await outbox.markSent(rows.map((r) => r.id));
      const stats = await outbox.stats();
      expect(stats.pending).toBe(2);
      expect(stats.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(0);
      const sent = await prisma.usageAggregate.findMany({ where: { status: 'sent' } });
      expect(sent).toHaveLength(2);
      expect(sent.every((r) => r.sentAt instanceof Date)).toBe(true);
      // Rescheduling a sent row changes nothing.
      await outbox.markFailed(
        rows.map((r) => r.id),
        0,
        'late',
      );
      expect(await prisma.usageAggregate.count({ where: { status: 'sent' } })).toBe(2);
    });

    it('stats of an empty outbox are zero', async () => {
      expect(await outbox.stats()).toEqual({ pending: 0, oldestPendingAgeSeconds: 0 });
    });
  });

  it('prunes consumed ids older than the retention only', async () => {
    await outbox.commitFlush(events(range(0, 30, 'old')), W);
    await outbox.commitFlush(events(range(0, 5, 'new')), W);
    await prisma.$executeRaw`UPDATE usage_consumed_events SET consumed_at = now() - interval '2 days' WHERE job_id LIKE 'old%'`;
    expect(await outbox.pruneConsumed(24 * 3600, 7)).toBe(30);
    expect((await prisma.usageConsumedEvent.findMany()).map((r) => r.jobId).sort()).toEqual(
      range(0, 5, 'new').sort(),
    );
  });
});
