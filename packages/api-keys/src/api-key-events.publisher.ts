import { RedisKeys, TTL_DEFAULTS } from '@strata/cache-keys';
import { ShortLivedConnection, type RedisClient, type RedisTopology } from '@strata/redis-topology';
import { serializeApiKeyEvent } from './api-key-events';
import { REVOKED_ENTRY } from './cached-verification';

/** Tells every gateway that a key changed; revocation works on without it (never throws). */
export interface ApiKeyEventSink {
  /** Replaces the Redis verification of the key with a `revoked` entry, then broadcasts. */
  keyRevoked(keyHash: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface ApiKeyEventsOptions {
  /** Longest wait for Redis per call (default 2 s). */
  timeoutMs?: number;
  /**
   * Lifetime of the `revoked` entry (default the `auth` TTL, 900 s). It must outlive any
   * gateway's lookup that read the key from Postgres before the revocation (gateways give up on
   * writing after a few seconds), see keyRevoked.
   */
  revokedTtlSeconds?: number;
  log?: (message: string) => void;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Revocation broadcasts with ioredis. Postgres is the truth; this makes every gateway refuse the
 * key at once instead of after its cache TTLs.
 */
export class ApiKeyEvents implements ApiKeyEventSink {
  private readonly connection: ShortLivedConnection;
  private readonly revokedTtlSeconds: number;
  private readonly log: (message: string) => void;

  constructor(
    redis: RedisClient | ShortLivedConnection,
    private readonly keys: RedisKeys,
    options: ApiKeyEventsOptions = {},
  ) {
    this.connection =
      redis instanceof ShortLivedConnection
        ? redis
        : new ShortLivedConnection(redis, options.timeoutMs ?? 2_000);
    this.revokedTtlSeconds = Math.max(1, options.revokedTtlSeconds ?? TTL_DEFAULTS.auth);
    this.log = options.log ?? (() => undefined);
  }

  /**
   * A short-lived publisher for a CLI: connects on first use, fails fast (no offline queue, no
   * reconnect loop) and is closed with {@link close}.
   */
  static connect(
    redis: string | RedisTopology,
    keyPrefix: string,
    options: ApiKeyEventsOptions = {},
  ): ApiKeyEvents {
    return new ApiKeyEvents(
      ShortLivedConnection.connect(redis, options.timeoutMs ?? 2_000),
      new RedisKeys(keyPrefix),
      options,
    );
  }

  /**
   * Overwrites (not deletes) the cached verification with a `revoked` entry: gateways write
   * their cache misses with SET NX, so a gateway that read the key from Postgres just before
   * the revocation cannot put it back as valid afterwards — its write finds this entry. Then
   * the broadcast makes every gateway drop its in-process copy.
   */
  async keyRevoked(keyHash: string): Promise<boolean> {
    try {
      await this.connection.run('Redis SET/PUBLISH', async (redis) => {
        await redis.set(this.keys.auth(keyHash), REVOKED_ENTRY, 'EX', this.revokedTtlSeconds);
        await redis.publish(
          this.keys.eventsChannel(),
          serializeApiKeyEvent({ type: 'key-revoked', keyHash }),
        );
      });
      return true;
    } catch (error) {
      this.log(
        `Could not broadcast the revocation (gateways refuse the key when their caches expire: AUTH_LOCAL_CACHE_TTL_MS, and AUTH_CACHE_TTL for Redis): ${describe(error)}`,
      );
      return false;
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** For callers without Redis: revocations reach gateways through their cache TTLs only. */
export const NO_API_KEY_EVENTS: ApiKeyEventSink = {
  keyRevoked: async () => false,
  close: async () => undefined,
};
