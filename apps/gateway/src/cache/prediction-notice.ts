import { JobError, isInferErrorCode, parseJsonRecord } from '@strata/cache-keys';
import { GatewayError } from '../http/http-errors';

/**
 * What the gateway holding a prediction lock tells the gateways waiting on it, on
 * `RedisKeys.predictionsChannel()`: the entry is stored (`ok`), the computation failed (`error`,
 * with the error so every waiter answers as the computing request did), or it succeeded but was
 * not stored (`uncached`: too large), so waiters compute for themselves.
 */
export type PredictionNotice =
  { d: string; s: 'ok' | 'uncached' } | { d: string; s: 'error'; e: SerializedError };

type SerializedError =
  | { kind: 'job'; code: string; message: string }
  | { kind: 'http'; status: number; message: string; retryAfter?: number }
  | { kind: 'other'; message: string };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof JobError) return { kind: 'job', code: err.code, message: err.message };
  if (err instanceof GatewayError) {
    return {
      kind: 'http',
      status: err.status,
      message: err.message,
      ...(err.retryAfter !== undefined && { retryAfter: err.retryAfter }),
    };
  }
  return { kind: 'other', message: err instanceof Error ? err.message : String(err) };
}

/** The error a waiter rethrows: same class and status as the computing request's. */
export function deserializeError(e: SerializedError): Error {
  if (e.kind === 'job' && isInferErrorCode(e.code)) return new JobError(e.code, e.message);
  if (e.kind === 'http') return new GatewayError(e.status, e.message, e.retryAfter);
  return new JobError('INTERNAL', e.message);
}

export function encodeNotice(notice: PredictionNotice): string {
  return JSON.stringify(notice);
}

/** The notice a message carries, or undefined for anything else. */
export function decodeNotice(message: string): PredictionNotice | undefined {
  const n = parseJsonRecord(message);
  if (!n) return undefined;
  if (typeof n.d !== 'string') return undefined;
  if (n.s === 'ok' || n.s === 'uncached') return { d: n.d, s: n.s };
  if (n.s === 'error' && typeof n.e === 'object' && n.e !== null) {
    const e = n.e as Record<string, unknown>;
    if (typeof e.message !== 'string') return undefined;
    return { d: n.d, s: 'error', e: e as SerializedError };
  }
  return undefined;
}
