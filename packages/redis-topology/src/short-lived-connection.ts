import { createRedisClient, type RedisClient } from './redis-client.factory';
import type { RedisTopology } from './redis-topology';

/**
 * A Redis connection for a CLI or a publisher on the side of a request: connects on first use,
 * fails fast (no offline queue, no reconnect loop), bounds every call, and is closed with
 * {@link close}. The registry's and the API keys' event publishers share it.
 */
export class ShortLivedConnection {
  private connecting: Promise<void> | undefined;

  constructor(
    readonly client: RedisClient,
    /** Longest wait for Redis per {@link run}, connecting included. */
    readonly timeoutMs = 2_000,
  ) {}

  /** A lazy, fail-fast client on `redis` (a URL is a standalone server). */
  static connect(redis: string | RedisTopology, timeoutMs = 2_000): ShortLivedConnection {
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
    return new ShortLivedConnection(client, timeoutMs);
  }

  /** Runs `work` once connected; rejects after `timeoutMs` with a message naming `what`. */
  run<T>(what: string, work: (redis: RedisClient) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      timer.unref();
    });
    const done = (async () => {
      await this.ready();
      return work(this.client);
    })();
    return Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  }

  private async ready(): Promise<void> {
    const { client } = this;
    if (client.status === 'ready') return;
    if (client.status === 'wait' || client.status === 'end') {
      this.connecting ??= client.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    if (this.connecting) await this.connecting;
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}
