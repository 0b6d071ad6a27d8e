import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import {
  createRedisClient,
  describeTopology,
  redisTopologyOf,
  type RedisClient,
  type RedisTopology,
} from '@strata/redis-topology';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { STRATA_CONFIG, STRATA_LOGGER, type ServiceConfig } from '../core/service-kit.tokens';

/**
 * `worker`: BullMQ Worker / QueueEvents; blocking commands must wait out outages, so requests are
 * retried forever (BullMQ refuses a worker connection that does not say so).
 * `producer` / `cache`: request paths; fail fast so a caller answers 503 instead of hanging.
 * The same options apply on every topology (see `createRedisClient`): on Sentinel the retry
 * strategy also paces the search for the new primary, on Cluster it is the cluster's.
 */
export type RedisRole = 'worker' | 'producer' | 'cache';

const QUIT_WAIT_MS = 1000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
};

export function redisOptionsFor(role: RedisRole, connectionName: string): RedisOptions {
  const common: RedisOptions = {
    connectionName,
    // Reconnect forever, backing off to 2 s: Redis coming back must heal the process by itself.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  };
  if (role === 'worker') {
    return { ...common, maxRetriesPerRequest: null, enableReadyCheck: true, connectTimeout: 5000 };
  }
  if (role === 'cache') {
    // The request path's reads (prediction cache, auth, metadata, rate limits) of concurrent
    // requests issued in one tick go out in one socket write: on this kind of VM each write costs
    // 0.1-0.3 ms of CPU (bench/cache-hit.mjs: gateway CPU per hit 0.73-0.79 -> 0.56 ms). Not on
    // BullMQ's producer connections, where it measured no gain.
    return { ...common, ...FAIL_FAST, enableAutoPipelining: true };
  }
  return { ...common, ...FAIL_FAST };
}

async function closeConnection(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    // Between reconnect attempts ioredis has no socket: disconnect() only cancels the next
    // attempt and never emits 'end', so there is nothing to wait for (a Cluster whose nodes are
    // all gone likewise stays 'disconnecting', with nothing pending).
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  // QUIT lets replies in flight arrive first.
  await client.quit().catch(() => undefined);
  await Promise.race([ended, delay(QUIT_WAIT_MS)]);
  // Re-read: the awaits above changed it (TypeScript still narrows it to 'ready').
  if ((client.status as string) !== 'end') client.disconnect();
}

/**
 * The single place that builds the services' Redis connections, on the configured topology
 * (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES). Every connection gets error and recovery
 * logging and is closed on shutdown.
 */
@Injectable()
export class RedisConnectionFactory implements OnApplicationShutdown {
  private readonly connections = new Set<RedisClient>();
  private readonly lastErrors = new WeakMap<RedisClient, string>();
  private closing = false;
  readonly topology: RedisTopology;

  constructor(
    @Inject(STRATA_CONFIG) private readonly config: ServiceConfig,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
  ) {
    this.topology = redisTopologyOf(config);
    logger.debug(`redis topology: ${describeTopology(this.topology)}`);
  }

  /** The configured topology, without secrets (for logs). */
  describe(): string {
    return describeTopology(this.topology);
  }

  create(role: RedisRole, name: string = role): RedisClient {
    const connectionName = `${this.config.REDIS_KEY_PREFIX}:${name}`;
    const client = createRedisClient(this.topology, redisOptionsFor(role, connectionName));
    this.watch(client, name, role);
    this.connections.add(client);
    client.once('end', () => this.connections.delete(client));
    return client;
  }

  private watch(client: RedisClient, name: string, role: RedisRole): void {
    const log = this.logger.child({ redis: name, role });
    let connected = false;
    let lost = false;
    let lastError: string | undefined;
    client.on('error', (err: Error) => {
      // ioredis repeats the same error on every reconnect attempt; log each new one once.
      this.lastErrors.set(client, err.message);
      if (err.message === lastError) return;
      lastError = err.message;
      log.warn({ err }, `redis ${name}: ${err.message}`);
    });
    client.on('close', () => {
      if (!connected || lost || this.closing) return;
      lost = true;
      log.warn(`redis ${name}: connection lost, reconnecting`);
    });
    client.on('ready', () => {
      if (lost || lastError !== undefined) log.info(`redis ${name}: connection restored`);
      connected = true;
      lost = false;
      lastError = undefined;
      this.lastErrors.delete(client);
    });
  }

  /** Why a connection made here is not usable: its state and last connection error, if any. */
  describeOutage(client: RedisClient): string | undefined {
    if (client.status === 'ready') return undefined;
    const error = this.lastErrors.get(client);
    return `not connected (${client.status})${error ? `: ${error}` : ''}`;
  }

  /** Quits every connection (or drops it when it is not connected) and waits until each ended. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const all = [...this.connections];
    this.connections.clear();
    await Promise.all(all.map((c) => closeConnection(c)));
  }

  onApplicationShutdown(): Promise<void> {
    return this.closeAll();
  }
}
