import { createHash } from 'node:crypto';
import type { OutboxRow } from '../usage/usage-outbox.repository';

export type DeliveryOutcome = 'success' | 'http_error' | 'timeout' | 'network_error';

export interface DeliveryResult {
  readonly outcome: DeliveryOutcome;
  readonly status?: number;
  /** Why it failed (absent on success). */
  readonly error?: string;
  readonly durationMs: number;
}

/** One row as the sink receives it. */
export interface SinkRecord {
  readonly idempotencyKey: string;
  readonly apiKeyHash: string;
  readonly workspace: string;
  readonly model: string;
  readonly version: number;
  readonly category: string;
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly requests: number;
  readonly items: number;
  readonly computeMs: number;
  readonly cachedCount: number;
  readonly errorCount: number;
  readonly startedAt: string;
  readonly stoppedAt: string;
}

export function toSinkRecord(r: OutboxRow): SinkRecord {
  return {
    idempotencyKey: r.idempotencyKey,
    apiKeyHash: r.apiKeyHash,
    workspace: r.workspace,
    model: r.model,
    version: r.version,
    category: r.category,
    windowStart: new Date(r.windowStart).toISOString(),
    windowEnd: new Date(r.windowEnd).toISOString(),
    requests: r.requests,
    items: r.items,
    computeMs: r.computeMs,
    cachedCount: r.cachedCount,
    errorCount: r.errorCount,
    startedAt: new Date(r.startedAt).toISOString(),
    stoppedAt: new Date(r.stoppedAt).toISOString(),
  };
}

/** sha256 over the sorted keys of the rows: the same rows always make the same batch key. */
export function batchIdempotencyKey(rows: readonly { idempotencyKey: string }[]): string {
  return createHash('sha256')
    .update(
      rows
        .map((r) => r.idempotencyKey)
        .sort()
        .join('\n'),
    )
    .digest('hex');
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  const inner =
    cause instanceof Error ? `: ${(cause as Error & { code?: string }).code ?? cause.message}` : '';
  return `${err.message}${inner}`;
}

/** Posts batches to TELEMETRY_SINK_URL. Never throws: every failure is a DeliveryResult. */
export class SinkClient {
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly fetchImpl: FetchLike = fetch,
  ) {}

  async post(rows: readonly OutboxRow[]): Promise<DeliveryResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await this.fetchImpl(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': batchIdempotencyKey(rows),
        },
        body: JSON.stringify(rows.map(toSinkRecord)),
        signal,
      });
      // Read the body (bounded by the same signal) so the connection can be reused.
      const text = await res.text();
      if (res.status >= 200 && res.status < 300)
        return { outcome: 'success', status: res.status, durationMs: elapsed() };
      return {
        outcome: 'http_error',
        status: res.status,
        error: `sink answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
        durationMs: elapsed(),
      };
    } catch (err) {
      if (signal.aborted) {
        return {
          outcome: 'timeout',
          error: `no answer from the sink within ${this.timeoutMs} ms`,
          durationMs: elapsed(),
        };
      }
      return { outcome: 'network_error', error: describe(err), durationMs: elapsed() };
    }
  }
}
