import { Registry } from 'prom-client';
import {
  UsageEmitter,
  UsageEmitterMetrics,
  type UsageEmitterOptions,
  type UsageJob,
  type UsageQueuePort,
} from '@strata/usage';
import { usageEvent } from '../support/usage-events';

/** A queue whose adds succeed, fail or hang on demand. */
class FakeQueue implements UsageQueuePort {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  readonly calls: UsageJob[][] = [];
  readonly added = new Map<string, UsageJob>();
  closed = false;

  async addBulk(jobs: UsageJob[]): Promise<unknown> {
    this.calls.push(jobs);
    if (this.mode === 'fail')
      throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    if (this.mode === 'hang') return new Promise(() => undefined);
    for (const j of jobs) this.added.set(j.opts.jobId, j);
    return jobs;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const m = registry.getSingleMetric(name);
  const data = await m!.get();
  const v = data.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(overrides: Partial<UsageEmitterOptions> = {}) {
  const queue = new FakeQueue();
  const registry = new Registry();
  const warnings: string[] = [];
  const emitter = new UsageEmitter({
    enabled: true,
    queue,
    maxBuffer: 1000,
    batchSize: 100,
    lingerMs: 1,
    retryBaseMs: 1,
    retryMaxMs: 5,
    closeTimeoutMs: 200,
    metrics: new UsageEmitterMetrics(registry),
    logger: { warn: (_o, m) => warnings.push(m), info: () => undefined },
    ...overrides,
  });
  return { queue, registry, emitter, warnings };
}

describe('UsageEmitter', () => {
  it('does nothing when disabled (TELEMETRY_OPT_OUT), and needs no queue', async () => {
    const registry = new Registry();
    const emitter = new UsageEmitter({
      enabled: false,
      maxBuffer: 10,
      metrics: new UsageEmitterMetrics(registry),
    });
    for (let i = 0; i < 50; i++) emitter.emit(usageEvent());
    expect(emitter.buffered).toBe(0);
    await emitter.flush();
    await emitter.close();
    expect(await metric(registry, 'strata_usage_events_emitted_total')).toBe(0);
  });

  it('adds events as `records` jobs of at most batchSize events, each job with its own id', async () => {
    const { queue, emitter, registry } = setup();
    for (let i = 0; i < 250; i++) emitter.emit(usageEvent({ items: i }));
    await emitter.flush();
    expect(queue.calls.map((c) => c.length)).toEqual([1, 1, 1]);
    expect(queue.added.size).toBe(3);
    const jobs = [...queue.added.values()];
    expect(jobs.map((j) => j.data.events.length)).toEqual([100, 100, 50]);
    expect(jobs.every((j) => j.name === 'records' && j.opts.removeOnComplete === true)).toBe(true);
    const items = jobs.flatMap((j) => j.data.events.map((e) => e.items));
    expect(items).toEqual([...Array(250).keys()]);
    expect(await metric(registry, 'strata_usage_events_emitted_total')).toBe(250);
    expect(await metric(registry, 'strata_usage_emit_buffered_events')).toBe(0);
  });

  it('returns at once: emit never waits for Redis', () => {
    const { queue, emitter } = setup();
    queue.mode = 'hang';
    // emit returns void, synchronously, even though no add has been answered.
    for (let i = 0; i < 100; i++) expect(emitter.emit(usageEvent())).toBeUndefined();
    expect(emitter.buffered).toBe(100);
  });

  it('never throws into the caller, and drops invalid events with a count', async () => {
    const { emitter, registry, queue } = setup();
    expect(() => emitter.emit({ nonsense: true } as never)).not.toThrow();
    expect(() => emitter.emit(null as never)).not.toThrow();
    queue.addBulk = () => {
      throw new Error('synchronous explosion');
    };
    expect(() => emitter.emit(usageEvent())).not.toThrow();
    expect(await metric(registry, 'strata_usage_events_dropped_total', { reason: 'invalid' })).toBe(
      2,
    );
  });

  it('keeps events while adds fail and retries the same job (same id, same events)', async () => {
    const { queue, emitter, registry } = setup({ batchSize: 20 });
    queue.mode = 'fail';
    for (let i = 0; i < 30; i++) emitter.emit(usageEvent({ items: i }));
    await until(() => queue.calls.length >= 3, 'three failed attempts');
    expect(emitter.buffered).toBe(30);
    const first = queue.calls[0][0];
    expect(queue.calls[2][0].opts.jobId).toBe(first.opts.jobId);
    expect(queue.calls[2][0].data.events).toEqual(first.data.events);
    // Events emitted while the batch is retried go into the next job, not into this one.
    emitter.emit(usageEvent({ items: 99 }));
    expect(queue.calls.at(-1)![0].data.events).toHaveLength(20);
    queue.mode = 'ok';
    await until(() => emitter.buffered === 0, 'recovery');
    const jobs = [...queue.added.values()];
    expect(jobs[0].opts.jobId).toBe(first.opts.jobId);
    expect(jobs.flatMap((j) => j.data.events.map((e) => e.items))).toEqual([
      ...[...Array(30).keys()],
      99,
    ]);
    expect(await metric(registry, 'strata_usage_emit_failures_total')).toBeGreaterThanOrEqual(3);
    expect(emitter.buffered).toBe(0);
  });

  it('bounds the buffer while Redis is down and counts what it drops', async () => {
    const { queue, emitter, registry, warnings } = setup({ maxBuffer: 10 });
    queue.mode = 'fail';
    for (let i = 0; i < 25; i++) emitter.emit(usageEvent());
    expect(emitter.buffered).toBe(10);
    expect(
      await metric(registry, 'strata_usage_events_dropped_total', { reason: 'buffer_full' }),
    ).toBe(15);
    // One warning for the full buffer, not fifteen.
    expect(warnings.filter((w) => w.includes('buffer full'))).toHaveLength(1);
    queue.mode = 'ok';
    await until(() => emitter.buffered === 0, 'the buffered events');
    expect([...queue.added.values()].flatMap((j) => j.data.events)).toHaveLength(10);
  });

  it('close() sends what is buffered, then closes the queue', async () => {
    const { queue, emitter } = setup({ lingerMs: 10_000 });
    for (let i = 0; i < 7; i++) emitter.emit(usageEvent());
    await emitter.close();
    expect([...queue.added.values()].flatMap((j) => j.data.events)).toHaveLength(7);
    expect(queue.closed).toBe(true);
    emitter.emit(usageEvent());
    expect(emitter.buffered).toBe(0);
  });

  it('close() gives up after its deadline when Redis stays down, counting the loss', async () => {
    const { queue, emitter, registry } = setup({ closeTimeoutMs: 50 });
    queue.mode = 'fail';
    for (let i = 0; i < 5; i++) emitter.emit(usageEvent());
    await emitter.close();
    expect(
      await metric(registry, 'strata_usage_events_dropped_total', { reason: 'shutdown' }),
    ).toBe(5);
    expect(queue.closed).toBe(true);
  });

  it('close() is not held up by an add that never answers', async () => {
    const { queue, emitter, registry } = setup({ closeTimeoutMs: 50, addTimeoutMs: 20 });
    queue.mode = 'hang';
    emitter.emit(usageEvent());
    await emitter.close();
    expect(
      await metric(registry, 'strata_usage_events_dropped_total', { reason: 'shutdown' }),
    ).toBe(1);
  });
});
