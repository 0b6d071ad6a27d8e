import { USAGE_RECORDS_MAX_EVENTS, type UsageEvent } from '@strata/cache-keys';
import { checkUsageEvent } from '@strata/usage';

/** What a `usage` job holds, checked. */
export type DecodedUsageJob =
  | {
      readonly ok: true;
      readonly events: readonly UsageEvent[];
      /** Events of a `records` job that failed the check (dropped, logged, counted). */
      readonly invalid: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

/**
 * Reads a job of either name: `records` (what emitters send: many events) or `record` (one
 * event, from emitters of an earlier version still draining during an upgrade). A job none of
 * whose events is readable is refused as a whole (the sender fails it, kept for inspection); a
 * `records` job with some bad events keeps the good ones: one foreign event must not lose the
 * usage of a hundred requests.
 */
export function decodeUsageJob(name: string, data: unknown): DecodedUsageJob {
  if (name === 'record') {
    const check = checkUsageEvent(data);
    return check.ok
      ? { ok: true, events: [check.event], invalid: [] }
      : { ok: false, error: `invalid usage event: ${check.error}` };
  }
  if (name !== 'records')
    return { ok: false, error: `unknown usage job name ${JSON.stringify(name)}` };
  const list = (data as { events?: unknown } | null)?.events;
  if (!Array.isArray(list))
    return { ok: false, error: 'invalid usage job: events is not an array' };
  if (list.length === 0 || list.length > USAGE_RECORDS_MAX_EVENTS)
    return {
      ok: false,
      error: `invalid usage job: 1–${USAGE_RECORDS_MAX_EVENTS} events expected, got ${list.length}`,
    };
  const events: UsageEvent[] = [];
  const invalid: string[] = [];
  list.forEach((item, i) => {
    const check = checkUsageEvent(item);
    if (check.ok) events.push(check.event);
    else invalid.push(`event ${i}: ${check.error}`);
  });
  if (events.length === 0)
    return { ok: false, error: `invalid usage job: no valid event (${invalid[0] ?? ''})` };
  return { ok: true, events, invalid };
}
