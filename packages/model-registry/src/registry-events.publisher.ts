import { RedisKeys } from '@strata/cache-keys';
import { createRedisClient, type RedisClient, type RedisTopology } from '@strata/redis-topology';
import { describeCause } from './errors';

/**
 * Invalidation events on `RedisKeys.eventsChannel()`: every gateway drops its in-process copies
 * of a model's metadata and aliases when one arrives. Before one is broadcast, the model's
 * metadata cached in Redis is invalidated (see {@link RegistryEvents.publish}).
 */
export type RegistryEvent =
  | { type: 'model-published'; model: string; version: number }
  | { type: 'alias-moved'; model: string; alias: string; version: number; previous: number | null }
  | { type: 'alias-removed'; model: string; alias: string; previous: number }
  | { type: 'version-deleted'; model: string; version: number }
  | { type: 'model-deleted'; model: string; versions: number[] };

export type RegistryLogger = (level: 'warn' | 'info', message: string) => void;

/** Sends {@link RegistryEvent}s; the registry works on without them (callers never see a failure). */
export interface RegistryEventSink {
  publish(event: RegistryEvent): Promise<boolean>;
  /** Bumps the cache generation of a version, so all its cached predictions become unreachable. */
  bumpGeneration(model: string, version: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface RegistryEventsOptions {
  /** Longest wait for Redis per call (default 2 s). */
  timeoutMs?: number;
  log?: RegistryLogger;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The Redis metadata entries an event names (the epoch bump covers every other one). */
function namedKeys(keys: RedisKeys, event: RegistryEvent): string[] {
  const named = [keys.modelMeta(event.model)];
  switch (event.type) {
    case 'alias-moved':
    case 'alias-removed':
      named.push(keys.alias(event.model, event.alias));
      break;
    case 'version-deleted':
      named.push(keys.versionMeta(event.model, event.version));
      break;
    case 'model-deleted':
      for (const v of event.versions) named.push(keys.versionMeta(event.model, v));
      break;
    case 'model-published':
      break;
  }
  return named;
}

/**
 * Publishes registry events with ioredis. A publish that fails (Redis down, timeout) is logged
 * and reported as `false`, never thrown: the registry in Postgres is the truth, events only make
 * caches notice sooner than their TTL.
 */
export class RegistryEvents implements RegistryEventSink {
  private readonly timeoutMs: number;
  private readonly log: RegistryLogger;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    options: RegistryEventsOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.log = options.log ?? (() => undefined);
  }

  /**
   * A short-lived publisher for a CLI or a job: connects lazily, fails fast (no offline queue, no
   * reconnect loop) and is closed with {@link close}.
   */
  static connect(
    redis: string | RedisTopology,
    keyPrefix: string,
    options: RegistryEventsOptions = {},
  ): RegistryEvents {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const topology: RedisTopology =
      typeof redis === 'string' ? { kind: 'standalone', url: redis } : redis;
    const client = createRedisClient(topology, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      retryStrategy: () => null,
    });
    // Errors surface through the failed calls; without a listener ioredis would print them.
    client.on('error', () => undefined);
    return new RegistryEvents(client, new RedisKeys(keyPrefix), options);
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
   * Called after the change is committed in Postgres. First the Redis level of the gateways'
   * metadata cache: one transaction increments the model's epoch (`RedisKeys.metaEpoch`) and
   * deletes the entries the event names. Gateways tag what they write with the epoch they read
   * *before* asking Postgres and ignore entries of another epoch, so a gateway whose lookup read
   * the old rows cannot make them current again by writing after this (its entry carries the old
   * epoch). Then the broadcast: every gateway drops its in-process copies at once, and its next
   * lookup finds nothing valid in Redis and reads Postgres.
   */
  async publish(event: RegistryEvent): Promise<boolean> {
    try {
      await withTimeout(
        (async () => {
          await this.ready();
          const results = await this.redis
            .multi()
            .incr(this.keys.metaEpoch(event.model))
            .del(...namedKeys(this.keys, event))
            .exec();
          const failed = results?.find(([error]) => error)?.[0];
          if (!results || failed) throw failed ?? new Error('the transaction was discarded');
          await this.redis.publish(this.keys.eventsChannel(), JSON.stringify(event));
        })(),
        this.timeoutMs,
        'Redis PUBLISH',
      );
      return true;
    } catch (error) {
      this.log(
        'warn',
        `Could not publish the ${event.type} event of model "${event.model}" (caches catch up when their TTL expires): ${describeCause(error)}`,
      );
      return false;
    }
  }

  async bumpGeneration(model: string, version: number): Promise<boolean> {
    try {
      await withTimeout(
        (async () => {
          await this.ready();
          await this.redis.incr(this.keys.generation(model, version));
        })(),
        this.timeoutMs,
        'Redis INCR',
      );
      return true;
    } catch (error) {
      this.log(
        'warn',
        `Could not bump the cache generation of ${model}/${version}: ${describeCause(error)}`,
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

/** For callers that run without Redis: drops every event. */
export const NO_EVENTS: RegistryEventSink = {
  publish: async () => false,
  bumpGeneration: async () => false,
  close: async () => undefined,
};
