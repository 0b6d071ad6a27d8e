import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { STRATA_CONFIG, STRATA_LOGGER, type ServiceConfig } from '../core/service-kit.tokens';

/**
 * `worker`: BullMQ Worker / QueueEvents; blocking commands must wait out outages, so requests are
 * retried forever (BullMQ refuses a worker connection that does not say so).
 * `producer` / `cache`: request paths; fail fast so a caller answers 503 instead of hanging.
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
  return { ...common, ...FAIL_FAST };
}

async function closeConnection(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    // Between reconnect attempts ioredis has no socket: disconnect() only cancels the next
    // attempt and never emits 'end', so there is nothing to wait for.
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
 * The single place that builds Redis connections (REDIS_URL today; Sentinel and Cluster change
 * only this file). Every connection gets error and recovery logging and is closed on shutdown.
 */
@Injectable()
export class RedisConnectionFactory implements OnApplicationShutdown {
  private readonly connections = new Set<Redis>();
  private readonly lastErrors = new WeakMap<Redis, string>();
  private closing = false;

  constructor(
    @Inject(STRATA_CONFIG) private readonly config: ServiceConfig,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
  ) {}

  create(role: RedisRole, name: string = role): Redis {
    const connectionName = `${this.config.REDIS_KEY_PREFIX}:${name}`;
    const client = new Redis(this.config.REDIS_URL, redisOptionsFor(role, connectionName));
    this.watch(client, name, role);
    this.connections.add(client);
    client.once('end', () => this.connections.delete(client));
    return client;
  }

  private watch(client: Redis, name: string, role: RedisRole): void {
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
  describeOutage(client: Redis): string | undefined {
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
