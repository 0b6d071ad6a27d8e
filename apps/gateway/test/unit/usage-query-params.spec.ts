import { BadRequestError } from '../../src/http/http-errors';
import {
  DEFAULT_RANGE_MS,
  parseIsoDate,
  parseUsageQuery,
  usageRowJson,
} from '../../src/usage/usage-query.params';

const NOW = new Date('2026-03-10T12:00:00.000Z');

function refused(query: Record<string, unknown>): string {
  try {
    parseUsageQuery(query, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('parseUsageQuery', () => {
  it('defaults to the last 7 days, grouped by day', () => {
    expect(parseUsageQuery(undefined, NOW)).toEqual({
      from: new Date(NOW.getTime() - DEFAULT_RANGE_MS),
      to: NOW,
      groupBy: 'day',
    });
    // The key may come as ?api_key= (the guard reads it): not an unknown parameter.
    expect(parseUsageQuery({ api_key: 'sk_x' }, NOW).groupBy).toBe('day');
  });

  it('takes every parameter', () => {
    expect(
      parseUsageQuery(
        {
          from: '2026-03-01',
          to: '2026-03-02T06:30:00+02:00',
          group_by: 'key',
          model: 'resnet',
          workspace: 'team-a',
          category: 'infer',
          limit: '50',
        },
        NOW,
      ),
    ).toEqual({
      from: new Date('2026-03-01T00:00:00Z'),
      to: new Date('2026-03-02T04:30:00Z'),
      groupBy: 'key',
      model: 'resnet',
      workspace: 'team-a',
      category: 'infer',
      limit: 50,
    });
  });

  it('counts 7 days back from `to` when only `to` is given', () => {
    const q = parseUsageQuery({ to: '2026-02-08' }, NOW);
    expect(q.from).toEqual(new Date('2026-02-01T00:00:00Z'));
  });

  it('refuses bad parameters with a message naming them', () => {
    expect(refused({ group_by: 'hour' })).toMatch(/group_by must be one of key, model, day/);
    expect(refused({ from: 'yesterday' })).toMatch(/from must be an ISO 8601 date/);
    expect(refused({ to: '2026-02-30' })).toMatch(/to must be an ISO 8601 date/);
    expect(refused({ to: '2026-13-01' })).toMatch(/to must be an ISO/);
    expect(refused({ from: '2026-01-01T25:00Z' })).toMatch(/from must be an ISO/);
    expect(refused({ category: 'train' })).toMatch(/category must be one of infer, workflow/);
    expect(refused({ limit: '-1' })).toMatch(/limit must be an integer/);
    expect(refused({ limit: '1.5' })).toMatch(/limit must be an integer/);
    expect(refused({ model: ['a', 'b'] })).toMatch(/model must be given once/);
    expect(refused({ model: '' })).toMatch(/model: 1–200 characters/);
    expect(refused({ groupby: 'model' })).toMatch(/unknown query parameter "groupby"/);
  });
});

describe('parseIsoDate', () => {
  it('reads dates as UTC midnight and zone-less date-times as UTC', () => {
    expect(parseIsoDate('x', '2026-03-01')).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(parseIsoDate('x', '2026-03-01T10:15')).toEqual(new Date('2026-03-01T10:15:00Z'));
    expect(parseIsoDate('x', '2026-03-01 10:15:30.5z')).toEqual(
      new Date('2026-03-01T10:15:30.500Z'),
    );
    expect(parseIsoDate('x', '2024-02-29')).toEqual(new Date('2024-02-29T00:00:00Z'));
  });
});

describe('usageRowJson', () => {
  it('answers snake_case with ISO times', () => {
    expect(
      usageRowJson({
        group: 'resnet',
        requests: 3,
        items: 9,
        computeMs: 4.5,
        cachedCount: 1,
        errorCount: 0,
        firstStartedAt: new Date('2026-03-01T00:00:01Z'),
        lastStoppedAt: new Date('2026-03-01T00:00:09Z'),
      }),
    ).toEqual({
      group: 'resnet',
      requests: 3,
      items: 9,
      compute_ms: 4.5,
      cached_count: 1,
      error_count: 0,
      first_started_at: '2026-03-01T00:00:01.000Z',
      last_stopped_at: '2026-03-01T00:00:09.000Z',
    });
  });
});
