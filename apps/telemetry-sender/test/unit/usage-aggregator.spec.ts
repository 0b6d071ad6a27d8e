import {
  aggregate,
  idempotencyKey,
  INT_COLUMN_MAX,
  windowStartOf,
  type ConsumedEvent,
} from '../../src/usage/usage-aggregator';
import { usageEvent } from '../support/usage-events';

const W = 10_000;
const T0 = 1_790_000_000_000; // a multiple of W

function ev(jobId: string, patch: Parameters<typeof usageEvent>[0] = {}): ConsumedEvent {
  return { jobId, event: usageEvent({ startedAt: T0 + 1, finishedAt: T0 + 5, ...patch }) };
}

describe('windowStartOf', () => {
  it('aligns windows to the epoch', () => {
    expect(windowStartOf(T0, W)).toBe(T0);
    expect(windowStartOf(T0 + W - 1, W)).toBe(T0);
    expect(windowStartOf(T0 + W, W)).toBe(T0 + W);
  });
});

describe('aggregate', () => {
  it('sums one dimension of one window into one row', () => {
    const rows = aggregate(
      [
        ev('1', { items: 2, computeMs: 1.5, cached: true, startedAt: T0 + 3, finishedAt: T0 + 4 }),
        ev('2', {
          items: 3,
          computeMs: 2,
          outcome: 'error',
          startedAt: T0 + 1,
          finishedAt: T0 + 2,
        }),
        ev('3', {
          items: 5,
          computeMs: 0.5,
          cached: false,
          startedAt: T0 + 9,
          finishedAt: T0 + 20_000,
        }),
      ],
      W,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      apiKeyHash: 'a'.repeat(64),
      workspace: 'ws-1',
      model: 'resnet',
      version: 1,
      category: 'infer',
      windowStart: new Date(T0),
      windowEnd: new Date(T0 + W),
      requests: 3,
      items: 10,
      computeMs: 4,
      cachedCount: 1,
      errorCount: 1,
      startedAt: new Date(T0 + 1),
      stoppedAt: new Date(T0 + 20_000),
    });
  });

  it('splits by window (of the start) and by every dimension', () => {
    const rows = aggregate(
      [
        ev('1'),
        ev('2', { startedAt: T0 + W, finishedAt: T0 + W + 1 }),
        ev('3', { apiKeyHash: 'b'.repeat(64) }),
        ev('4', { workspace: 'ws-2' }),
        ev('5', { model: 'yolo' }),
        ev('6', { version: 2 }),
        ev('7', { category: 'workflow' }),
        ev('8'),
      ],
      W,
    );
    expect(rows).toHaveLength(7);
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(8);
    expect(new Set(rows.map((r) => r.idempotencyKey)).size).toBe(7);
  });

  it('keys are deterministic, independent of event order, and differ with the events counted', () => {
    const a = aggregate([ev('1'), ev('2')], W)[0].idempotencyKey;
    const b = aggregate([ev('2'), ev('1')], W)[0].idempotencyKey;
    const c = aggregate([ev('1'), ev('3')], W)[0].idempotencyKey;
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey(T0, ['k', 'w', 'm', 1, 'infer'], ['x'])).not.toBe(
      idempotencyKey(T0 + W, ['k', 'w', 'm', 1, 'infer'], ['x']),
    );
  });

  it('continues a group in another row before an integer column would overflow', () => {
    const big = INT_COLUMN_MAX - 10;
    const rows = aggregate(
      [ev('1', { items: big }), ev('2', { items: 20 }), ev('3', { items: 5 })],
      W,
    );
    expect(rows.map((r) => r.items).sort((x, y) => x - y)).toEqual([25, big]);
    expect(new Set(rows.map((r) => r.idempotencyKey)).size).toBe(2);
  });

  it('makes nothing of nothing', () => {
    expect(aggregate([], W)).toEqual([]);
  });
});

describe('events of one `records` job', () => {
  it('count as distinct events, and the rows they split into get distinct keys', () => {
    const events: ConsumedEvent[] = [0, 1, 2].map((seq) => ({
      ...ev('batch', { items: INT_COLUMN_MAX - 1 }),
      seq,
    }));
    // Each event nearly fills an integer column: three rows of the same window and dimension,
    // all from the same job. Keyed by the job id alone they would collide and two would be lost.
    const rows = aggregate(events, W);
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.idempotencyKey)).size).toBe(3);
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(3);
  });
});
