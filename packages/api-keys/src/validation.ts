import { InvalidApiKeyInputError } from './errors';
import { API_KEY_SCOPES, type ApiKeyScope } from './types';

const NAME_RE = /^[\p{L}\p{N} ._@:/+-]{1,100}$/u;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function validateKeyName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.trim() !== name) {
    throw new InvalidApiKeyInputError(
      'name must be 1–100 characters of letters, digits, space and . _ @ : / + - (no leading or trailing space)',
    );
  }
  return name;
}

/** Scopes from a list or a comma-separated string; duplicates collapse; at least one. */
export function parseScopes(value: unknown): ApiKeyScope[] {
  const items =
    typeof value === 'string'
      ? value.split(',').map((s) => s.trim())
      : Array.isArray(value)
        ? value
        : undefined;
  if (!items || items.length === 0) {
    throw new InvalidApiKeyInputError(
      `scopes must name at least one of ${API_KEY_SCOPES.join(', ')}`,
    );
  }
  const out = new Set<ApiKeyScope>();
  for (const item of items) {
    if (typeof item !== 'string' || !(API_KEY_SCOPES as readonly string[]).includes(item)) {
      throw new InvalidApiKeyInputError(
        `unknown scope ${JSON.stringify(item)} (scopes: ${API_KEY_SCOPES.join(', ')})`,
      );
    }
    out.add(item as ApiKeyScope);
  }
  return API_KEY_SCOPES.filter((s) => out.has(s));
}

const DURATION_RE = /^(\d{1,6})([smhdw])$/;
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * An expiry: an ISO 8601 date-time, or a duration from `now` (`90d`, `12h`, `30m`, `2w`).
 * It must lie in the future.
 */
export function parseExpiry(value: unknown, now: Date = new Date()): Date {
  let at: Date | undefined;
  if (value instanceof Date) at = value;
  else if (typeof value === 'string') {
    const m = DURATION_RE.exec(value.trim());
    if (m) at = new Date(now.getTime() + Number(m[1]) * UNIT_MS[m[2]]);
    else if (/^\d{4}-\d{2}-\d{2}/.test(value)) at = new Date(value);
  }
  if (!at || Number.isNaN(at.getTime())) {
    throw new InvalidApiKeyInputError(
      `expiry ${JSON.stringify(value)} is neither an ISO date-time nor a duration like 90d, 12h, 30m`,
    );
  }
  if (at.getTime() <= now.getTime()) {
    throw new InvalidApiKeyInputError(`expiry ${at.toISOString()} is not in the future`);
  }
  return at;
}

/** A key's own limit: requests per RATE_LIMIT_WINDOW, 0 = unlimited, null = the default. */
export function validateRateLimit(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 1_000_000) {
    throw new InvalidApiKeyInputError(
      'rate limit must be an integer from 0 (unlimited) to 1000000 requests per window',
    );
  }
  return value;
}

/** Key ids are UUIDs; anything else cannot name a key. */
export function isKeyId(value: string): boolean {
  return UUID_RE.test(value);
}
