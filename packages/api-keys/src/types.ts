/** What a key may do: `infer` (inference and model listing) and `admin` (management). */
export type ApiKeyScope = 'infer' | 'admin';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['infer', 'admin'];

/** An API key as listed: never the secret, never its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  workspace: string;
  /** First characters of the secret (`sk_AbCd1234`), for telling keys apart. */
  prefix: string;
  scopes: ApiKeyScope[];
  /** Requests per RATE_LIMIT_WINDOW; null = the gateway default, 0 = unlimited. */
  rateLimit: number | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** A key that passed verification: what the gateway needs per request. */
export interface VerifiedApiKey {
  id: string;
  name: string;
  workspace: string;
  prefix: string;
  scopes: ApiKeyScope[];
  /** sha256 of the secret (usage accounting and rate-limit keys use it, never the secret). */
  keyHash: string;
  /** Requests per RATE_LIMIT_WINDOW; null = the gateway default, 0 = unlimited. */
  rateLimit: number | null;
  expiresAt: Date | null;
}

/** Why a secret was refused. */
export type ApiKeyRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired';

export type VerifyResult = { ok: true; key: VerifiedApiKey } | { ok: false; reason: ApiKeyRefusal };

export interface CreateApiKeyInput {
  name: string;
  /** Default `default` (created if missing). */
  workspace?: string;
  /** Default `['infer']`. */
  scopes?: readonly ApiKeyScope[];
  expiresAt?: Date | null;
  /** Requests per RATE_LIMIT_WINDOW; null/absent = the gateway default, 0 = unlimited. */
  rateLimit?: number | null;
}

export interface CreatedApiKey {
  key: ApiKeyRecord;
  /** The secret: shown once, never stored. */
  secret: string;
}
