import {
  USAGE_CATEGORIES,
  USAGE_GROUP_BY,
  type UsageCategory,
  type UsageGroupBy,
  type UsageQuery,
  type UsageRow,
} from '@strata/usage';
import { BadRequestError } from '../http/http-errors';

export const DEFAULT_RANGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_GROUP_BY: UsageGroupBy = 'day';

/** `api_key` is how a key may authenticate (the guard reads it); the rest are the query. */
const KNOWN = new Set(['from', 'to', 'group_by', 'model', 'workspace', 'category', 'limit']);
const AUTH_PARAMS = new Set(['api_key']);

// A calendar date, or a date and time with an optional zone (none = UTC).
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new BadRequestError(`${name} must be given once`);
  return v;
}

export function parseIsoDate(name: string, value: string): Date {
  const m = ISO_DATE.exec(value);
  const [, y, mo, d, time, zone] = m ?? [];
  // JS rolls 2025-02-30 over to March: check the day against the month.
  const daysInMonth = m ? new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate() : 0;
  const date = m
    ? new Date(`${y}-${mo}-${d}T${time ?? '00:00'}${zone ? zone.toUpperCase() : 'Z'}`)
    : undefined;
  if (
    !date ||
    Number.isNaN(date.getTime()) ||
    Number(mo) < 1 ||
    Number(mo) > 12 ||
    Number(d) < 1 ||
    Number(d) > daysInMonth
  ) {
    throw new BadRequestError(
      `${name} must be an ISO 8601 date or date-time (2025-01-31, 2025-01-31T12:00:00Z), got "${value}"`,
    );
  }
  return date;
}

function text(query: Record<string, unknown>, name: string): string | undefined {
  const v = single(query, name);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length > 200) throw new BadRequestError(`${name}: 1–200 characters`);
  return v;
}

/**
 * `GET /v1/usage` query → `UsageQuery`: `from`, `to` (ISO dates; default the 7 days up to now),
 * `group_by` (key | model | day, default day), filters `model`, `workspace`, `category`, and
 * `limit`. Unknown or repeated parameters are refused rather than silently ignored.
 */
export function parseUsageQuery(query: Record<string, unknown> | undefined, now: Date): UsageQuery {
  const q = query ?? {};
  const unknown = Object.keys(q).filter((k) => !KNOWN.has(k) && !AUTH_PARAMS.has(k));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `unknown query parameter ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${[...KNOWN].join(', ')})`,
    );
  }
  const fromText = single(q, 'from');
  const toText = single(q, 'to');
  const to = toText === undefined ? now : parseIsoDate('to', toText);
  const from =
    fromText === undefined
      ? new Date(to.getTime() - DEFAULT_RANGE_MS)
      : parseIsoDate('from', fromText);

  const groupBy = single(q, 'group_by') ?? DEFAULT_GROUP_BY;
  if (!USAGE_GROUP_BY.includes(groupBy as UsageGroupBy)) {
    throw new BadRequestError(`group_by must be one of ${USAGE_GROUP_BY.join(', ')}`);
  }
  const category = single(q, 'category');
  if (category !== undefined && !USAGE_CATEGORIES.includes(category as UsageCategory)) {
    throw new BadRequestError(`category must be one of ${USAGE_CATEGORIES.join(', ')}`);
  }
  const limitText = single(q, 'limit');
  let limit: number | undefined;
  if (limitText !== undefined) {
    if (!/^[0-9]{1,6}$/.test(limitText)) throw new BadRequestError('limit must be an integer');
    limit = Number(limitText);
  }
  const model = text(q, 'model');
  const workspace = text(q, 'workspace');
  return {
    from,
    to,
    groupBy: groupBy as UsageGroupBy,
    ...(model !== undefined && { model }),
    ...(workspace !== undefined && { workspace }),
    ...(category !== undefined && { category: category as UsageCategory }),
    ...(limit !== undefined && { limit }),
  };
}

/** A usage row as the HTTP API shows it (snake_case, ISO times), like the other admin routes. */
export function usageRowJson(row: UsageRow) {
  return {
    group: row.group,
    requests: row.requests,
    items: row.items,
    compute_ms: row.computeMs,
    cached_count: row.cachedCount,
    error_count: row.errorCount,
    first_started_at: row.firstStartedAt.toISOString(),
    last_stopped_at: row.lastStoppedAt.toISOString(),
  };
}
