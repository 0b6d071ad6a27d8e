import { RedisKeys } from '@strata/cache-keys';
import { ShortLivedConnection, type RedisClient, type RedisTopology } from '@strata/redis-topology';
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
  private readonly connection: ShortLivedConnection;
  private readonly log: RegistryLogger;

  constructor(
    redis: RedisClient | ShortLivedConnection,
    private readonly keys: RedisKeys,
    options: RegistryEventsOptions = {},
  ) {
    this.connection =
      redis instanceof ShortLivedConnection
        ? redis
        : new ShortLivedConnection(redis, options.timeoutMs ?? 2_000);
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
    return new RegistryEvents(
      ShortLivedConnection.connect(redis, options.timeoutMs ?? 2_000),
      new RedisKeys(keyPrefix),
      options,
    );
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
      await this.connection.run('Redis PUBLISH', async (redis) => {
        const results = await redis
          .multi()
          .incr(this.keys.metaEpoch(event.model))
          .del(...namedKeys(this.keys, event))
          .exec();
        const failed = results?.find(([error]) => error)?.[0];
        if (!results || failed) throw failed ?? new Error('the transaction was discarded');
        await redis.publish(this.keys.eventsChannel(), JSON.stringify(event));
      });
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
      await this.connection.run('Redis INCR', (redis) =>
        redis.incr(this.keys.generation(model, version)),
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

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** For callers that run without Redis: drops every event. */
export const NO_EVENTS: RegistryEventSink = {
  publish: async () => false,
  bumpGeneration: async () => false,
  close: async () => undefined,
};
