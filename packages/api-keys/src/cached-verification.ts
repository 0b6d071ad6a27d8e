import type { ApiKeyRefusal, VerifiedApiKey, VerifyResult } from './types';

/**
 * The form of a verification kept in Redis (`RedisKeys.auth(keyHash)`), compact JSON shared by
 * the gateways that cache verifications and by whoever revokes a key (it writes the `revoked`
 * entry). `v` is the format: an entry of another format is a miss, never an error, so a rolling
 * upgrade that changes the form only costs a database lookup.
 *
 * Positive: `{"v":1,"k":{...VerifiedApiKey without keyHash, expiresAt as epoch ms or null}}`.
 * Refusal:  `{"v":1,"r":"revoked"|"expired"|"unknown"}`.
 */
const FORMAT = 1;
const REFUSALS: ReadonlySet<string> = new Set<ApiKeyRefusal>(['unknown', 'revoked', 'expired']);

export function encodeVerification(result: VerifyResult): string {
  if (!result.ok) return JSON.stringify({ v: FORMAT, r: result.reason });
  // The hash is the Redis key already; every other field travels as it is, so a field added to
  // VerifiedApiKey is cached without touching this file (only Dates need a form).
  const { keyHash: _hash, expiresAt, ...rest } = result.key;
  return JSON.stringify({ v: FORMAT, k: { ...rest, expiresAt: expiresAt?.getTime() ?? null } });
}

/** The verification an entry holds, or undefined when it is not one this code can read. */
export function decodeVerification(text: string, keyHash: string): VerifyResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = value as { v?: unknown; r?: unknown; k?: unknown };
  if (entry.v !== FORMAT) return undefined;
  if (typeof entry.r === 'string') {
    return REFUSALS.has(entry.r) ? { ok: false, reason: entry.r as ApiKeyRefusal } : undefined;
  }
  if (typeof entry.k !== 'object' || entry.k === null) return undefined;
  const k = entry.k as Record<string, unknown>;
  const strings = ['id', 'name', 'workspace', 'prefix'].every((f) => typeof k[f] === 'string');
  const scopes = Array.isArray(k.scopes) && k.scopes.every((s) => typeof s === 'string');
  const expiry = k.expiresAt === null || typeof k.expiresAt === 'number';
  if (!strings || !scopes || !expiry) return undefined;
  const key = {
    ...k,
    keyHash,
    expiresAt: k.expiresAt === null ? null : new Date(k.expiresAt as number),
  } as unknown as VerifiedApiKey;
  return { ok: true, key };
}

/** The entry a revocation leaves in place of a cached verification. */
export const REVOKED_ENTRY = encodeVerification({ ok: false, reason: 'revoked' });
