import type { PrismaClient } from '@strata/db';
import { NO_API_KEY_EVENTS, type ApiKeyEventSink } from './api-key-events.publisher';
import { ApiKeyRepository, isUniqueViolation, type StoredApiKey } from './api-key.repository';
import { ApiKeyNotFoundError } from './errors';
import { displayPrefix, generateSecret, hashSecret, isWellFormedSecret } from './secret';
import type {
  ApiKeyRecord,
  CreateApiKeyInput,
  CreatedApiKey,
  VerifiedApiKey,
  VerifyResult,
} from './types';
import {
  isKeyId,
  parseExpiry,
  parseScopes,
  validateKeyName,
  validateRateLimit,
} from './validation';

/** `lastUsedAt` is written at most once per key and interval. */
export const LAST_USED_INTERVAL_MS = 60_000;

export interface ApiKeyServiceOptions {
  now?: () => Date;
  generate?: () => string;
  /** Revocations are broadcast here (gateways drop the key at once); default: nowhere. */
  events?: ApiKeyEventSink;
}

function publicRecord(stored: StoredApiKey): ApiKeyRecord {
  // The hash stays inside the package: listings never carry it.
  const { secretHash: _hash, ...record } = stored;
  return record;
}

/**
 * API keys: create (the secret is returned once; only its sha256 is stored), list, revoke,
 * verify, and the throttled `lastUsedAt` write. No caching here: callers (the gateway's
 * auth caches) decide how long a verification may be reused; revocations reach them through
 * the {@link ApiKeyEventSink}.
 */
export class ApiKeyService {
  readonly repository: ApiKeyRepository;
  private readonly now: () => Date;
  private readonly generate: () => string;
  private readonly events: ApiKeyEventSink;
  /** Per key id, when this process last wrote (or tried to write) `lastUsedAt`. */
  private readonly touched = new Map<string, number>();

  constructor(prisma: PrismaClient, options: ApiKeyServiceOptions = {}) {
    this.repository = new ApiKeyRepository(prisma);
    this.now = options.now ?? (() => new Date());
    this.generate = options.generate ?? (() => generateSecret());
    this.events = options.events ?? NO_API_KEY_EVENTS;
  }

  async create(input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const name = validateKeyName(input.name);
    const scopes = parseScopes(input.scopes ?? ['infer']);
    const expiresAt =
      input.expiresAt === undefined || input.expiresAt === null
        ? null
        : parseExpiry(input.expiresAt, this.now());
    const rateLimit = validateRateLimit(input.rateLimit);
    const workspace = input.workspace ?? 'default';
    // A collision of 190 random bits does not happen; one retry covers a broken generator in tests.
    for (let attempt = 0; ; attempt++) {
      const secret = this.generate();
      try {
        const stored = await this.repository.insert({
          name,
          workspace,
          secretHash: hashSecret(secret),
          prefix: displayPrefix(secret),
          scopes,
          expiresAt,
          rateLimit,
        });
        return { key: publicRecord(stored), secret };
      } catch (error) {
        if (attempt > 0 || !isUniqueViolation(error)) throw error;
      }
    }
  }

  async list(
    options: { workspace?: string; includeRevoked?: boolean } = {},
  ): Promise<ApiKeyRecord[]> {
    return (await this.repository.list(options)).map(publicRecord);
  }

  async get(id: string): Promise<ApiKeyRecord> {
    const found = isKeyId(id) ? await this.repository.findById(id) : null;
    if (!found) throw new ApiKeyNotFoundError(id);
    return publicRecord(found);
  }

  /**
   * Revokes a key (idempotent: revoking a revoked key changes nothing). Returns the record and
   * the hash of its secret, so the caller can drop cached verifications of it. The revocation
   * is broadcast after it is committed, again when the key was already revoked (so revoking
   * twice repairs a broadcast that failed); `eventsPublished` says whether that worked.
   */
  async revoke(id: string): Promise<{
    key: ApiKeyRecord;
    keyHash: string;
    alreadyRevoked: boolean;
    eventsPublished: boolean;
  }> {
    if (!isKeyId(id)) throw new ApiKeyNotFoundError(id);
    const changed = await this.repository.markRevoked(id, this.now());
    const found = await this.repository.findById(id);
    if (!found) throw new ApiKeyNotFoundError(id);
    const eventsPublished = await this.events.keyRevoked(found.secretHash);
    return {
      key: publicRecord(found),
      keyHash: found.secretHash,
      alreadyRevoked: !changed,
      eventsPublished,
    };
  }

  /** Checks a secret: well-formed, known, not revoked, not expired. */
  async verify(secret: string): Promise<VerifyResult> {
    if (!isWellFormedSecret(secret)) return { ok: false, reason: 'malformed' };
    const found = await this.repository.findByHash(hashSecret(secret));
    if (!found) return { ok: false, reason: 'unknown' };
    return checkUsable(toVerified(found), found.revokedAt, this.now());
  }

  /**
   * Records that a key was used: at most one write per key per minute from this process (and,
   * through the conditional UPDATE, from all processes together). Never throws.
   */
  async touch(id: string): Promise<boolean> {
    const now = this.now();
    const last = this.touched.get(id);
    if (last !== undefined && now.getTime() - last < LAST_USED_INTERVAL_MS) return false;
    this.touched.set(id, now.getTime());
    if (this.touched.size > 100_000) this.touched.clear();
    try {
      return await this.repository.touchLastUsed(
        id,
        now,
        new Date(now.getTime() - LAST_USED_INTERVAL_MS),
      );
    } catch {
      this.touched.delete(id);
      return false;
    }
  }
}

function toVerified(stored: StoredApiKey): VerifiedApiKey {
  return {
    id: stored.id,
    name: stored.name,
    workspace: stored.workspace,
    prefix: stored.prefix,
    scopes: stored.scopes,
    keyHash: stored.secretHash,
    rateLimit: stored.rateLimit,
    expiresAt: stored.expiresAt,
  };
}

/** Whether a found key may be used at `now` (revocation first, then expiry). */
export function checkUsable(key: VerifiedApiKey, revokedAt: Date | null, now: Date): VerifyResult {
  if (revokedAt) return { ok: false, reason: 'revoked' };
  if (key.expiresAt && key.expiresAt.getTime() <= now.getTime())
    return { ok: false, reason: 'expired' };
  return { ok: true, key };
}
