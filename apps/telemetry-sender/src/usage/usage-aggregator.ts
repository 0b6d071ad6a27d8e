import { createHash } from 'node:crypto';
import type { UsageEvent } from '@strata/usage';

/** A usage event with the id of the job that carried it. */
export interface ConsumedEvent {
  /** What makes a replay recognisable: recorded once per job, whatever it carried. */
  readonly jobId: string;
  /** Place of the event in a `records` job (absent for a one-event `record` job). */
  readonly seq?: number;
  readonly event: UsageEvent;
}

/** The event's own id: its job's, plus its place in the job when the job carried several. */
export function eventIdOf(e: ConsumedEvent): string {
  return e.seq === undefined ? e.jobId : `${e.jobId}#${e.seq}`;
}

/** One outbox row to insert (the `usage_aggregates` columns the flush sets). */
export interface AggregateRow {
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
}

/** Largest value of the integer columns; a group that would pass it continues in another row. */
export const INT_COLUMN_MAX = 2147483647;

/** Start (Unix ms) of the window holding `ms`; windows are aligned to the epoch. */
export function windowStartOf(ms: number, windowMs: number): number {
  return Math.floor(ms / windowMs) * windowMs;
}

/**
 * sha256 over the window, the dimension and the sorted ids of the events counted in the row. The
 * ids make it unique (an event is counted in one row only, ever) and deterministic (a flush
 * retried after an unknown commit outcome computes the same key).
 */
export function idempotencyKey(
  windowStart: number,
  dimension: readonly (string | number)[],
  jobIds: readonly string[],
): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([new Date(windowStart).toISOString(), ...dimension]));
  for (const id of [...jobIds].sort()) h.update(`\n${id}`);
  return h.digest('hex');
}

interface Acc {
  windowStart: number;
  dimension: [string, string, string, number, string];
  jobIds: string[];
  requests: number;
  items: number;
  computeMs: number;
  cachedCount: number;
  errorCount: number;
  startedAt: number;
  stoppedAt: number;
}

/**
 * Sums events per (window of their start, api key hash, workspace, model, version, category):
 * requests, items, compute time, cached and error counts, earliest start, latest finish.
 */
export function aggregate(events: readonly ConsumedEvent[], windowMs: number): AggregateRow[] {
  const open = new Map<string, Acc>();
  const done: Acc[] = [];
  for (const consumed of events) {
    const e = consumed.event;
    const windowStart = windowStartOf(e.startedAt, windowMs);
    const dimension: Acc['dimension'] = [e.apiKeyHash, e.workspace, e.model, e.version, e.category];
    const group = JSON.stringify([windowStart, ...dimension]);
    let acc = open.get(group);
    if (acc && (acc.items + e.items > INT_COLUMN_MAX || acc.requests + 1 > INT_COLUMN_MAX)) {
      done.push(acc);
      acc = undefined;
    }
    if (!acc) {
      acc = {
        windowStart,
        dimension,
        jobIds: [],
        requests: 0,
        items: 0,
        computeMs: 0,
        cachedCount: 0,
        errorCount: 0,
        startedAt: e.startedAt,
        stoppedAt: e.finishedAt,
      };
      open.set(group, acc);
    }
    acc.jobIds.push(eventIdOf(consumed));
    acc.requests += 1;
    acc.items += e.items;
    acc.computeMs += e.computeMs;
    if (e.cached) acc.cachedCount += 1;
    if (e.outcome === 'error') acc.errorCount += 1;
    acc.startedAt = Math.min(acc.startedAt, e.startedAt);
    acc.stoppedAt = Math.max(acc.stoppedAt, e.finishedAt);
  }
  return [...done, ...open.values()].map((a) => ({
    idempotencyKey: idempotencyKey(a.windowStart, a.dimension, a.jobIds),
    apiKeyHash: a.dimension[0],
    workspace: a.dimension[1],
    model: a.dimension[2],
    version: a.dimension[3],
    category: a.dimension[4],
    windowStart: new Date(a.windowStart),
    windowEnd: new Date(a.windowStart + windowMs),
    requests: a.requests,
    items: a.items,
    computeMs: a.computeMs,
    cachedCount: a.cachedCount,
    errorCount: a.errorCount,
    startedAt: new Date(a.startedAt),
    stoppedAt: new Date(a.stoppedAt),
  }));
}
