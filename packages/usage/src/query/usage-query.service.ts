import { Prisma } from '@strata/db';
import type { UsageCategory } from '../usage-event';

export type UsageGroupBy = 'key' | 'model' | 'day';
export const USAGE_GROUP_BY: readonly UsageGroupBy[] = ['key', 'model', 'day'];

export interface UsageQuery {
  /** Aggregates whose window starts at or after this… */
  readonly from: Date;
  /** …and before this. */
  readonly to: Date;
  /** `key`: api key hash; `model`: model name; `day`: UTC day of the window (`YYYY-MM-DD`). */
  readonly groupBy: UsageGroupBy;
  readonly workspace?: string;
  readonly model?: string;
  readonly apiKeyHash?: string;
  readonly category?: UsageCategory;
  /** Most groups returned, in group order (default 1000, at most 10000). */
  readonly limit?: number;
}

export interface UsageRow {
  /** The api key hash, model name or day, per `groupBy`. */
  readonly group: string;
  readonly requests: number;
  readonly items: number;
  readonly computeMs: number;
  readonly cachedCount: number;
  readonly errorCount: number;
  readonly firstStartedAt: Date;
  readonly lastStoppedAt: Date;
}

/** A query the caller got wrong (the gateway answers 400 with the message). */
export class UsageQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageQueryError';
  }
}

/** Anything with Prisma's `$queryRaw` (the client, a transaction). */
export interface UsageQueryable {
  $queryRaw<T = unknown>(query: Prisma.Sql): PromiseLike<T>;
}

const MAX_RANGE_MS = 366 * 24 * 3600 * 1000;
const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 10000;

const GROUP_SQL: Record<UsageGroupBy, Prisma.Sql> = {
  key: Prisma.sql`api_key_hash`,
  model: Prisma.sql`model`,
  day: Prisma.sql`to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
};

function validDate(d: unknown): d is Date {
  return d instanceof Date && !Number.isNaN(d.getTime());
}

/**
 * Usage totals over the outbox (`usage_aggregates`), delivered or not: the rows are the record,
 * delivery only copies them to the sink. Backs the gateway's admin `GET /v1/usage`.
 */
export class UsageQueryService {
  constructor(private readonly db: UsageQueryable) {}

  async usageBy(query: UsageQuery): Promise<UsageRow[]> {
    const { from, to, groupBy } = query;
    if (!validDate(from) || !validDate(to)) throw new UsageQueryError('from and to must be dates');
    if (to.getTime() <= from.getTime()) throw new UsageQueryError('to must be after from');
    if (to.getTime() - from.getTime() > MAX_RANGE_MS)
      throw new UsageQueryError('from–to spans more than 366 days');
    if (!USAGE_GROUP_BY.includes(groupBy))
      throw new UsageQueryError(`groupBy must be one of ${USAGE_GROUP_BY.join(', ')}`);
    const limit = query.limit ?? DEFAULT_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new UsageQueryError(`limit must be 1–${MAX_LIMIT}`);

    const where = [Prisma.sql`window_start >= ${from}`, Prisma.sql`window_start < ${to}`];
    if (query.workspace !== undefined) where.push(Prisma.sql`workspace = ${query.workspace}`);
    if (query.model !== undefined) where.push(Prisma.sql`model = ${query.model}`);
    if (query.apiKeyHash !== undefined) where.push(Prisma.sql`api_key_hash = ${query.apiKeyHash}`);
    if (query.category !== undefined) where.push(Prisma.sql`category = ${query.category}`);

    // float8 sums: exact up to 2^53 and returned as numbers (bigint would come back as BigInt).
    const rows = await this.db.$queryRaw<UsageRow[]>(Prisma.sql`
      SELECT ${GROUP_SQL[groupBy]} AS "group",
             SUM(requests)::float8     AS "requests",
             SUM(items)::float8        AS "items",
             SUM(compute_ms)::float8   AS "computeMs",
             SUM(cached_count)::float8 AS "cachedCount",
             SUM(error_count)::float8  AS "errorCount",
             MIN(started_at)           AS "firstStartedAt",
             MAX(stopped_at)           AS "lastStoppedAt"
        FROM usage_aggregates
       WHERE ${Prisma.join(where, ' AND ')}
       GROUP BY 1
       ORDER BY 1
       LIMIT ${limit}`);
    return rows.map((r) => ({
      group: r.group,
      requests: Number(r.requests),
      items: Number(r.items),
      computeMs: Number(r.computeMs),
      cachedCount: Number(r.cachedCount),
      errorCount: Number(r.errorCount),
      firstStartedAt: new Date(r.firstStartedAt),
      lastStoppedAt: new Date(r.lastStoppedAt),
    }));
  }
}
