import { USAGE_RECORDS_MAX_EVENTS } from '@strata/cache-keys';
import { decodeUsageJob } from '../../src/usage/usage-job.decoder';
import { usageEvent } from '../support/usage-events';

describe('decodeUsageJob', () => {
  it('reads a `records` job, keeping the good events and naming the bad ones', () => {
    const good = [usageEvent({ items: 1 }), usageEvent({ items: 2 })];
    const d = decodeUsageJob('records', { events: [good[0], { items: -1 }, good[1]] });
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.events.map((e) => e.items)).toEqual([1, 2]);
    expect(d.invalid).toHaveLength(1);
    expect(d.invalid[0]).toMatch(/^event 1: /);
  });

  it('reads a one-event `record` job of an older emitter', () => {
    const d = decodeUsageJob('record', usageEvent({ items: 7 }));
    expect(d).toMatchObject({ ok: true, invalid: [] });
    if (d.ok) expect(d.events[0].items).toBe(7);
  });

  it.each([
    ['a bad `record`', 'record', { nonsense: true }, /invalid usage event/],
    ['`records` without an array', 'records', { events: 'x' }, /not an array/],
    ['`records` with no data', 'records', null, /not an array/],
    ['an empty `records`', 'records', { events: [] }, /1–10000 events/],
    [
      'a `records` over the limit',
      'records',
      { events: Array(USAGE_RECORDS_MAX_EVENTS + 1).fill(usageEvent()) },
      /got 10001/,
    ],
    ['a `records` of bad events only', 'records', { events: [{ a: 1 }, 2] }, /no valid event/],
    ['an unknown job name', 'recordz', usageEvent(), /unknown usage job name "recordz"/],
  ])('refuses %s as a whole', (_what, name, data, error) => {
    const d = decodeUsageJob(name as string, data);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toMatch(error as RegExp);
  });
});
