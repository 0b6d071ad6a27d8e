import pino from 'pino';
import { Registry } from 'prom-client';
import type { DeliveryResult, SinkClient } from '../../src/delivery/sink.client';
import { UsageSender } from '../../src/delivery/usage-sender.service';
import { TelemetryMetrics } from '../../src/metrics/telemetry.metrics';
import type { TelemetrySettings } from '../../src/telemetry-settings';
import type { OutboxRow, UsageOutboxRepository } from '../../src/usage/usage-outbox.repository';

const settings: TelemetrySettings = {
  keyPrefix: 'x',
  windowMs: 10_000,
  flushMaxEvents: 10,
  flushGraceMs: 0,
  jobLockMs: 1000,
  dedupRetentionSeconds: 3600,
  batchSize: 2,
  sendIntervalMs: 1,
  retryBaseMs: 4,
  retryMaxMs: 16,
  sinkTimeoutMs: 100,
  sinkUrl: 'http://sink',
  claimLeaseMs: 1000,
};

/** An in-memory outbox with the claim semantics the sender relies on. */
class FakeOutbox {
  rows = new Map<string, { row: OutboxRow; status: 'pending' | 'sent'; dueAt: number }>();
  failedWith: number[] = [];
  add(n: number) {
    for (let i = 0; i < n; i++) {
      const id = `r${this.rows.size}`;
      this.rows.set(id, {
        row: { id, idempotencyKey: `k-${id}`, items: 1 } as OutboxRow,
        status: 'pending',
        dueAt: 0,
      });
    }
  }
  async claimDue(limit: number, leaseMs: number) {
    const now = Date.now();
    const due = [...this.rows.values()]
      .filter((r) => r.status === 'pending' && r.dueAt <= now)
      .slice(0, limit);
    for (const r of due) r.dueAt = now + leaseMs;
    return due.map((r) => r.row);
  }
  async markSent(ids: string[]) {
    for (const id of ids) this.rows.get(id)!.status = 'sent';
  }
  async markFailed(ids: string[], retryInMs: number) {
    this.failedWith.push(retryInMs);
    for (const id of ids) this.rows.get(id)!.dueAt = Date.now() + retryInMs;
  }
  pending() {
    return [...this.rows.values()].filter((r) => r.status === 'pending').length;
  }
}

class FakeSink {
  posts: string[][] = [];
  outcomes: DeliveryResult['outcome'][] = [];
  async post(rows: OutboxRow[]): Promise<DeliveryResult> {
    this.posts.push(rows.map((r) => r.id));
    const outcome = this.outcomes.shift() ?? 'success';
    return { outcome, durationMs: 1, error: outcome === 'success' ? undefined : outcome };
  }
}

async function until(cond: () => boolean, what: string) {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function make(sink?: FakeSink) {
  const outbox = new FakeOutbox();
  const registry = new Registry();
  const sender = new UsageSender({
    outbox: outbox as unknown as UsageOutboxRepository,
    sink: sink as unknown as SinkClient,
    settings,
    metrics: new TelemetryMetrics(registry),
    logger: pino({ level: 'silent' }),
    random: () => 0.999,
  });
  return { outbox, sender, registry };
}

describe('UsageSender', () => {
  it('posts every pending row in batches of at most TELEMETRY_BATCH_SIZE and marks them sent', async () => {
    const sink = new FakeSink();
    const { outbox, sender } = make(sink);
    outbox.add(5);
    sender.start();
    await until(() => outbox.pending() === 0, 'all sent');
    await sender.stop();
    expect(sink.posts.every((p) => p.length <= 2)).toBe(true);
    expect(sink.posts.flat().sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('marks nothing sent on a failure, backs off exponentially up to the cap, and delivers afterwards', async () => {
    const sink = new FakeSink();
    sink.outcomes = ['http_error', 'timeout', 'network_error', 'http_error', 'http_error'];
    const { outbox, sender, registry } = make(sink);
    outbox.add(1);
    sender.start();
    await until(() => outbox.pending() === 0, 'delivered after failures');
    await sender.stop();
    expect(sink.posts).toHaveLength(6);
    // random() = 0.999: ceilings 4, 8, 16, 16 (cap), 16.
    expect(outbox.failedWith).toEqual([3, 7, 15, 15, 15]);
    const data = await registry.getSingleMetric('strata_usage_deliveries_total')!.get();
    const by = Object.fromEntries(data.values.map((v) => [v.labels.outcome, v.value]));
    expect(by).toEqual({ success: 1, http_error: 3, timeout: 1, network_error: 1 });
  });

  it('does not run without a sink: rows stay pending', async () => {
    const { outbox, sender } = make(undefined);
    outbox.add(3);
    sender.start();
    expect(sender.running).toBe(false);
    await sender.stop();
    expect(outbox.pending()).toBe(3);
  });
});
