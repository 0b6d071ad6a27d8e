import { RedisKeys, TTL_DEFAULTS } from '@strata/cache-keys';
import { createRedisClient, type RedisClient, type RedisTopology } from '@strata/redis-topology';
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

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Revocation broadcasts with ioredis. Postgres is the truth; this makes every gateway refuse the
 * key at once instead of after its cache TTLs.
 */
export class ApiKeyEvents implements ApiKeyEventSink {
  private readonly timeoutMs: number;
  private readonly revokedTtlSeconds: number;
  private readonly log: (message: string) => void;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    options: ApiKeyEventsOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
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
    const topology: RedisTopology =
      typeof redis === 'string' ? { kind: 'standalone', url: redis } : redis;
    const client = createRedisClient(topology, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.timeoutMs ?? 2_000,
      retryStrategy: () => null,
    });
    // Errors surface through the failed calls; without a listener ioredis would print them.
    client.on('error', () => undefined);
    return new ApiKeyEvents(client, new RedisKeys(keyPrefix), options);
  }

  private async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (this.redis.status === 'wait' || this.redis.status === 'end') {
      this.connecting ??= this.redis.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    if (this.connecting) await this.connecting;
  }

  /**
   * Overwrites (not deletes) the cached verification with a `revoked` entry: gateways write
   * their cache misses with SET NX, so a gateway that read the key from Postgres just before
   * the revocation cannot put it back as valid afterwards — its write finds this entry. Then
   * the broadcast makes every gateway drop its in-process copy.
   */
  async keyRevoked(keyHash: string): Promise<boolean> {
    try {
      await withTimeout(
        (async () => {
          await this.ready();
          await this.redis.set(
            this.keys.auth(keyHash),
            REVOKED_ENTRY,
            'EX',
            this.revokedTtlSeconds,
          );
          await this.redis.publish(
            this.keys.eventsChannel(),
            serializeApiKeyEvent({ type: 'key-revoked', keyHash }),
          );
        })(),
        this.timeoutMs,
        'Redis SET/PUBLISH',
      );
      return true;
    } catch (error) {
      this.log(
        `Could not broadcast the revocation (gateways refuse the key when their caches expire: AUTH_LOCAL_CACHE_TTL_MS, and AUTH_CACHE_TTL for Redis): ${describe(error)}`,
      );
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') {
      await this.redis.quit().catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
  }
}

/** For callers without Redis: revocations reach gateways through their cache TTLs only. */
export const NO_API_KEY_EVENTS: ApiKeyEventSink = {
  keyRevoked: async () => false,
  close: async () => undefined,
};
