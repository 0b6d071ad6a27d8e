import type { UsageCategory, UsageEvent } from '@strata/cache-keys';

export type { UsageCategory, UsageEvent };

export const USAGE_CATEGORIES: readonly UsageCategory[] = ['infer', 'workflow'];

/** Longest identifier accepted in a usage event (api key hash, workspace, model). */
const MAX_ID = 200;
/** Items of one event: what one integer column of an aggregate can hold. */
const MAX_ITEMS = 2147483647;

export type UsageEventCheck =
  | { readonly ok: true; readonly event: UsageEvent }
  | { readonly ok: false; readonly error: string };

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isFiniteNonNegative(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * Checks a usage event (from a caller or from a job payload) and returns a clean copy holding
 * only the known fields. The emitter drops what fails here, so the telemetry-sender only meets
 * a bad event when an emitter of another version wrote it.
 */
export function checkUsageEvent(input: unknown): UsageEventCheck {
  if (typeof input !== 'object' || input === null) return { ok: false, error: 'not an object' };
  const e = input as Record<string, unknown>;
  if (!isId(e.apiKeyHash)) return { ok: false, error: 'apiKeyHash: 1–200 characters' };
  if (!isId(e.workspace)) return { ok: false, error: 'workspace: 1–200 characters' };
  if (!isId(e.model)) return { ok: false, error: 'model: 1–200 characters' };
  if (
    !Number.isSafeInteger(e.version) ||
    (e.version as number) < 0 ||
    (e.version as number) > 2147483647
  )
    return { ok: false, error: 'version: integer 0–2147483647' };
  if (!USAGE_CATEGORIES.includes(e.category as UsageCategory))
    return { ok: false, error: `category: one of ${USAGE_CATEGORIES.join(', ')}` };
  if (!isCount(e.items) || e.items > MAX_ITEMS)
    return { ok: false, error: 'items: integer 0–2147483647' };
  if (!isFiniteNonNegative(e.computeMs))
    return { ok: false, error: 'computeMs: non-negative number' };
  if (typeof e.cached !== 'boolean') return { ok: false, error: 'cached: boolean' };
  if (e.outcome !== 'ok' && e.outcome !== 'error')
    return { ok: false, error: 'outcome: ok | error' };
  if (!isCount(e.startedAt)) return { ok: false, error: 'startedAt: Unix ms' };
  if (!isCount(e.finishedAt)) return { ok: false, error: 'finishedAt: Unix ms' };
  if ((e.finishedAt as number) < (e.startedAt as number))
    return { ok: false, error: 'finishedAt before startedAt' };
  return {
    ok: true,
    event: {
      apiKeyHash: e.apiKeyHash,
      workspace: e.workspace,
      model: e.model,
      version: e.version as number,
      category: e.category as UsageCategory,
      items: e.items,
      computeMs: e.computeMs,
      cached: e.cached,
      outcome: e.outcome,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
    },
  };
}
