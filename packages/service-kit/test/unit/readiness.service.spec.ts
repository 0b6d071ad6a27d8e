import { ReadinessService } from '@strata/service-kit';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ReadinessService', () => {
  it('is ready with no checks', async () => {
    expect(await new ReadinessService().evaluate()).toEqual({ ok: true, checks: {}, failing: [] });
  });

  it('reports ok for every passing check', async () => {
    const r = new ReadinessService();
    r.register({ name: 'redis', check: async () => 'PONG' });
    r.register({ name: 'postgres', check: () => undefined });
    expect(await r.evaluate()).toEqual({
      ok: true,
      checks: { redis: 'ok', postgres: 'ok' },
      failing: [],
    });
  });

  it('names the failing checks with their error messages, rejected or thrown', async () => {
    const r = new ReadinessService();
    r.register({ name: 'redis', check: async () => Promise.reject(new Error('ECONNREFUSED')) });
    r.register({
      name: 'disk',
      check: () => {
        throw new Error('/cache is not writable');
      },
    });
    r.register({ name: 'postgres', check: async () => undefined });
    expect(await r.evaluate()).toEqual({
      ok: false,
      checks: { redis: 'ECONNREFUSED', disk: '/cache is not writable', postgres: 'ok' },
      failing: ['redis', 'disk'],
    });
  });

  it('fails a check that does not settle within its own timeout, without waiting for it', async () => {
    const r = new ReadinessService();
    const never = new Promise<void>(() => undefined);
    r.register({ name: 'redis', timeoutMs: 20, check: () => never });
    r.register({ name: 'postgres', timeoutMs: 10_000, check: async () => undefined });
    const report = await r.evaluate();
    expect(report.failing).toEqual(['redis']);
    expect(report.checks).toEqual({ redis: 'timed out after 20 ms', postgres: 'ok' });
  });

  it('runs the checks in parallel', async () => {
    const r = new ReadinessService();
    const a = deferred();
    const b = deferred();
    // Each check finishes only once the other has started: sequential runs would time out.
    r.register({
      name: 'a',
      timeoutMs: 5000,
      check: async () => {
        a.resolve();
        await b.promise;
      },
    });
    r.register({
      name: 'b',
      timeoutMs: 5000,
      check: async () => {
        b.resolve();
        await a.promise;
      },
    });
    expect((await r.evaluate()).ok).toBe(true);
  });

  it('refuses two checks with one name', () => {
    const r = new ReadinessService();
    r.register({ name: 'redis', check: () => undefined });
    expect(() => r.register({ name: 'redis', check: () => undefined })).toThrow(/twice/);
  });
});
