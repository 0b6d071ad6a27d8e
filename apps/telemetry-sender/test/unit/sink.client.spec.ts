import { batchIdempotencyKey, SinkClient, type FetchLike } from '../../src/delivery/sink.client';
import type { OutboxRow } from '../../src/usage/usage-outbox.repository';

function row(key: string): OutboxRow {
  const t = new Date('2026-03-01T00:00:00Z');
  return {
    id: `id-${key}`,
    idempotencyKey: key,
    apiKeyHash: 'a'.repeat(64),
    workspace: 'ws',
    model: 'm',
    version: 1,
    category: 'infer',
    windowStart: t,
    windowEnd: new Date(t.getTime() + 10_000),
    requests: 2,
    items: 3,
    computeMs: 4.5,
    cachedCount: 1,
    errorCount: 0,
    startedAt: t,
    stoppedAt: t,
    attempts: 1,
  };
}

describe('SinkClient', () => {
  it('posts a JSON array, each row with its key, and a batch key derived from the rows', async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const fetchImpl: FetchLike = async (url, init) => {
      seen = { url, init };
      return new Response('ok', { status: 202 });
    };
    const result = await new SinkClient('http://sink/usage', 1000, fetchImpl).post([
      row('b'),
      row('a'),
    ]);
    expect(result.outcome).toBe('success');
    const headers = seen!.init.headers as Record<string, string>;
    expect(headers['idempotency-key']).toBe(
      batchIdempotencyKey([{ idempotencyKey: 'a' }, { idempotencyKey: 'b' }]),
    );
    const body = JSON.parse(String(seen!.init.body));
    expect(body.map((r: { idempotencyKey: string }) => r.idempotencyKey)).toEqual(['b', 'a']);
    expect(body[0]).toMatchObject({
      items: 3,
      windowStart: '2026-03-01T00:00:00.000Z',
      windowEnd: '2026-03-01T00:00:10.000Z',
    });
    expect(body[0]).not.toHaveProperty('id');
  });

  it('reports a non-2xx answer as http_error with the status', async () => {
    const result = await new SinkClient(
      'http://sink',
      1000,
      async () => new Response('nope', { status: 503 }),
    ).post([row('a')]);
    expect(result).toMatchObject({ outcome: 'http_error', status: 503 });
    expect(result.error).toContain('503');
  });

  it('reports a sink that does not answer in time as timeout', async () => {
    const hang: FetchLike = (_url, init) =>
      new Promise((_, reject) =>
        init.signal!.addEventListener('abort', () => reject(init.signal!.reason)),
      );
    const result = await new SinkClient('http://sink', 20, hang).post([row('a')]);
    expect(result.outcome).toBe('timeout');
  });

  it('reports a refused or reset connection as network_error, without throwing', async () => {
    const refuse: FetchLike = async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      });
    };
    const result = await new SinkClient('http://sink', 1000, refuse).post([row('a')]);
    expect(result).toMatchObject({ outcome: 'network_error' });
    expect(result.error).toContain('ECONNREFUSED');
  });
});
