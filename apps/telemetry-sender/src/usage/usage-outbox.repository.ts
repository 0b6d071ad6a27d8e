import { Prisma, type PrismaClient } from '@strata/db';
import { aggregate, eventIdOf, type ConsumedEvent } from './usage-aggregator';

/** A claimed outbox row, as posted to the sink. */
export interface OutboxRow {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly apiKeyHash: string;
  readonly workspace: string;
  readonly model: string;
  readonly version: number;
  readonly category: string;
  readonly windowStart: Date;
  readonly windowEnd: Date;
  readonly requests: number;
  readonly items: number;
  readonly computeMs: number;
  readonly cachedCount: number;
  readonly errorCount: number;
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  readonly attempts: number;
}

export interface FlushResult {
  /** Events counted by this flush (their ids were new). */
  readonly counted: number;
  /** Events whose ids were already counted: replays after a crash, ignored. */
  readonly replayed: number;
  /** Aggregate rows written. */
  readonly rows: number;
}

export interface OutboxStats {
  readonly pending: number;
  /** Age of the oldest pending row (0 when none). */
  readonly oldestPendingAgeSeconds: number;
}

/** Interactive transactions of a flush: a long wait for a connection means Postgres is in trouble. */
const FLUSH_TX = { maxWait: 5000, timeout: 60000 };

/**
 * The Postgres side of usage: the exactly-once flush, the claimable outbox, pruning. Every time
 * comparison uses the database clock, so senders with skewed clocks agree.
 */
export class UsageOutboxRepository {
  constructor(private readonly db: PrismaClient) {}

  /**
   * One transaction: records the job ids (ON CONFLICT DO NOTHING), aggregates only the events
   * of the jobs whose ids it inserted, writes those aggregates. Committed → every event is
   * counted exactly once whatever happens to its job afterwards; rolled back → nothing happened.
   * One id per job, not per event: a `records` job of 100 events costs one row here.
   */
  async commitFlush(events: readonly ConsumedEvent[], windowMs: number): Promise<FlushResult> {
    // job id → its events by their own id (the same event twice in one batch is one event).
    const byId = new Map<string, Map<string, ConsumedEvent>>();
    for (const e of events) {
      let same = byId.get(e.jobId);
      if (!same) byId.set(e.jobId, (same = new Map()));
      same.set(eventIdOf(e), e);
    }
    if (byId.size === 0) return { counted: 0, replayed: 0, rows: 0 };
    let distinct = 0;
    for (const same of byId.values()) distinct += same.size;
    // Sorted, so two transactions touching the same ids lock them in one order (no deadlock).
    const ids = [...byId.keys()].sort();
    return this.db.$transaction(async (tx) => {
      const inserted = await tx.$queryRaw<{ job_id: string }[]>`
        INSERT INTO usage_consumed_events (job_id)
        SELECT id FROM unnest(${ids}::text[]) AS t(id) ORDER BY id
        ON CONFLICT (job_id) DO NOTHING
        RETURNING job_id`;
      const fresh = inserted.flatMap((r) => [...(byId.get(r.job_id)?.values() ?? [])]);
      const rows = aggregate(fresh, windowMs);
      if (rows.length > 0) await tx.usageAggregate.createMany({ data: rows, skipDuplicates: true });
      return { counted: fresh.length, replayed: distinct - fresh.length, rows: rows.length };
    }, FLUSH_TX);
  }

  /**
   * Claims up to `limit` due pending rows: `FOR UPDATE SKIP LOCKED` so concurrent senders take
   * disjoint rows, and the claim pushes `next_attempt_at` out by `leaseMs` so no other sender
   * takes them while this one posts. A sender that dies leaves them claimable after the lease.
   */
  async claimDue(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const rows = await this.db.$queryRaw<OutboxRow[]>`
      WITH due AS (
        SELECT id FROM usage_aggregates
         WHERE status = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id
         LIMIT ${limit}
         FOR UPDATE SKIP LOCKED
      )
      UPDATE usage_aggregates AS u
         SET next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000}::float8),
             attempts = u.attempts + 1
        FROM due
       WHERE u.id = due.id
      RETURNING u.id::text AS "id", u.idempotency_key AS "idempotencyKey",
                u.api_key_hash AS "apiKeyHash", u.workspace, u.model, u.version, u.category,
                u.window_start AS "windowStart", u.window_end AS "windowEnd", u.requests,
                u.items, u.compute_ms AS "computeMs", u.cached_count AS "cachedCount",
                u.error_count AS "errorCount", u.started_at AS "startedAt",
                u.stopped_at AS "stoppedAt", u.attempts`;
    return rows.sort((a, b) => a.idempotencyKey.localeCompare(b.idempotencyKey));
  }

  /** After a 2xx from the sink. */
  async markSent(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.$executeRaw`
      UPDATE usage_aggregates
         SET status = 'sent', sent_at = now(), last_error = NULL
       WHERE id = ANY(${[...ids]}::uuid[]) AND status = 'pending'`;
  }

  /** After a failed post: due again in `retryInMs`. */
  async markFailed(ids: readonly string[], retryInMs: number, error: string): Promise<void> {
    if (ids.length === 0) return;
    await this.db.$executeRaw`
      UPDATE usage_aggregates
         SET next_attempt_at = now() + make_interval(secs => ${retryInMs / 1000}::float8),
             last_error = ${error.slice(0, 1000)}
       WHERE id = ANY(${[...ids]}::uuid[]) AND status = 'pending'`;
  }

  async stats(): Promise<OutboxStats> {
    const [row] = await this.db.$queryRaw<{ pending: number; age: number }[]>`
      SELECT count(*)::float8 AS pending,
             COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
        FROM usage_aggregates
       WHERE status = 'pending'`;
    return {
      pending: Number(row?.pending ?? 0),
      oldestPendingAgeSeconds: Math.max(0, Number(row?.age ?? 0)),
    };
  }

  /** Deletes consumed ids older than the retention, `batch` at a time; returns how many went. */
  async pruneConsumed(retentionSeconds: number, batch = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.$executeRaw(Prisma.sql`
        DELETE FROM usage_consumed_events
         WHERE job_id IN (
           SELECT job_id FROM usage_consumed_events
            WHERE consumed_at < now() - make_interval(secs => ${retentionSeconds}::float8)
            LIMIT ${batch})`);
      total += n;
      if (n < batch) return total;
    }
  }
}
