import { createPrismaClient, type PrismaClient } from '@strata/db';
import { createTestDatabase, type TestDatabase } from '@strata/testing';
import { UsageQueryError, UsageQueryService } from '@strata/usage';

const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);
let seq = 0;

function row(p: {
  key?: string;
  workspace?: string;
  model?: string;
  category?: string;
  at: string;
  requests?: number;
  items?: number;
  cached?: number;
  errors?: number;
  status?: 'pending' | 'sent';
}) {
  seq += 1;
  const start = new Date(p.at);
  return {
    idempotencyKey: `k${seq}`,
    apiKeyHash: p.key ?? KEY_A,
    workspace: p.workspace ?? 'ws-1',
    model: p.model ?? 'resnet',
    version: 1,
    category: p.category ?? 'infer',
    windowStart: start,
    windowEnd: new Date(start.getTime() + 10_000),
    requests: p.requests ?? 1,
    items: p.items ?? 1,
    computeMs: (p.requests ?? 1) * 1.5,
    cachedCount: p.cached ?? 0,
    errorCount: p.errors ?? 0,
    startedAt: new Date(start.getTime() + 1),
    stoppedAt: new Date(start.getTime() + 9_000),
    status: p.status ?? 'pending',
  };
}

describe('UsageQueryService', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let service: UsageQueryService;
  const from = new Date('2026-03-01T00:00:00Z');
  const to = new Date('2026-03-03T00:00:00Z');

  beforeAll(async () => {
    db = await createTestDatabase('usage_query');
    prisma = createPrismaClient({ databaseUrl: db.url });
    service = new UsageQueryService(prisma);
    await prisma.usageAggregate.createMany({
      data: [
        row({ at: '2026-03-01T10:00:00Z', requests: 3, items: 30, cached: 1 }),
        row({ at: '2026-03-01T10:00:10Z', requests: 2, items: 4, errors: 1, status: 'sent' }),
        row({ at: '2026-03-01T23:59:50Z', key: KEY_B, model: 'yolo', requests: 5, items: 5 }),
        row({
          at: '2026-03-02T00:00:00Z',
          key: KEY_B,
          model: 'yolo',
          category: 'workflow',
          requests: 1,
          items: 7,
        }),
        row({ at: '2026-03-02T12:00:00Z', workspace: 'ws-2', requests: 10, items: 10 }),
        // Outside [from, to): never counted.
        row({ at: '2026-02-28T23:59:50Z', requests: 100, items: 100 }),
        row({ at: '2026-03-03T00:00:00Z', requests: 100, items: 100 }),
      ],
    });
  });

  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  it('groups by api key hash, delivered or not', async () => {
    const rows = await service.usageBy({ from, to, groupBy: 'key' });
    expect(rows.map((r) => [r.group, r.requests, r.items, r.cachedCount, r.errorCount])).toEqual([
      [KEY_A, 15, 44, 1, 1],
      [KEY_B, 6, 12, 0, 0],
    ]);
    expect(rows[0].computeMs).toBeCloseTo(15 * 1.5);
    expect(rows[0].firstStartedAt.toISOString()).toBe('2026-03-01T10:00:00.001Z');
    expect(rows[0].lastStoppedAt.toISOString()).toBe('2026-03-02T12:00:09.000Z');
  });

  it('groups by model', async () => {
    const rows = await service.usageBy({ from, to, groupBy: 'model' });
    expect(rows.map((r) => [r.group, r.requests])).toEqual([
      ['resnet', 15],
      ['yolo', 6],
    ]);
  });

  it('groups by UTC day of the window', async () => {
    const rows = await service.usageBy({ from, to, groupBy: 'day' });
    expect(rows.map((r) => [r.group, r.requests, r.items])).toEqual([
      ['2026-03-01', 10, 39],
      ['2026-03-02', 11, 17],
    ]);
  });

  it('filters by workspace, model, key and category', async () => {
    expect(
      (await service.usageBy({ from, to, groupBy: 'model', workspace: 'ws-2' })).map((r) => [
        r.group,
        r.requests,
      ]),
    ).toEqual([['resnet', 10]]);
    expect(
      (await service.usageBy({ from, to, groupBy: 'day', model: 'yolo' })).map((r) => r.requests),
    ).toEqual([5, 1]);
    expect(
      (
        await service.usageBy({
          from,
          to,
          groupBy: 'model',
          apiKeyHash: KEY_B,
          category: 'workflow',
        })
      ).map((r) => r.items),
    ).toEqual([7]);
    expect(await service.usageBy({ from, to, groupBy: 'key', model: 'nothing' })).toEqual([]);
  });

  it('limits the number of groups', async () => {
    expect(await service.usageBy({ from, to, groupBy: 'key', limit: 1 })).toHaveLength(1);
  });

  it.each([
    [{ from: to, to: from }, 'to must be after from'],
    [{ from: new Date('x'), to }, 'dates'],
    [{ from: new Date('2020-01-01T00:00:00Z'), to }, '366 days'],
    [{ groupBy: 'hour' }, 'groupBy'],
    [{ limit: 0 }, 'limit'],
  ])('refuses a bad query %#', async (patch, message) => {
    const query = { from, to, groupBy: 'key' as const, ...patch } as never;
    await expect(service.usageBy(query)).rejects.toThrow(UsageQueryError);
    await expect(service.usageBy(query)).rejects.toThrow(message);
  });
});
