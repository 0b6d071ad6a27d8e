import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTopology } from './redis-topology';

/**
 * A connection to whichever topology is configured. Standalone and Sentinel give a `Redis`;
 * Cluster gives a `Cluster`. Both share every command method, events and `status`, which is
 * all the platform's code uses; BullMQ accepts either.
 */
export type RedisClient = Redis | Cluster;

export function isClusterClient(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

// After a failover the old primary may come back as a replica; a connection still pointed at
// it gets READONLY on writes. Reconnecting (2 = and resend the command) asks the sentinels again.
function reconnectOnReadOnly(err: Error): boolean | 1 | 2 {
  return err.message.startsWith('READONLY') ? 2 : false;
}

/**
 * Builds one connection of `topology` with the per-connection `options` (retry, offline queue,
 * timeouts, name) applied the same way on every topology:
 * - Sentinel: the options apply to the connection to the current primary; `retryStrategy`
 *   also paces the search for a reachable sentinel, so a fail-fast client stays fail-fast.
 * - Cluster: `retryStrategy`, `enableOfflineQueue` and `lazyConnect` apply to the cluster as a
 *   whole; everything else to each node connection.
 */
export function createRedisClient(
  topology: RedisTopology,
  options: RedisOptions = {},
): RedisClient {
  switch (topology.kind) {
    case 'standalone':
      return new Redis(topology.url, options);
    case 'sentinel':
      return new Redis({
        reconnectOnError: reconnectOnReadOnly,
        ...options,
        sentinels: topology.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: topology.name,
        sentinelPassword: topology.sentinelPassword,
        password: topology.password ?? options.password,
        sentinelRetryStrategy: options.retryStrategy ?? ((times) => Math.min(times * 100, 2000)),
        // Not `failoverDetector`: in ioredis 5.11 its sentinel subscriptions outlive quit() after
        // a failover and reconnect forever. A dead primary drops the socket, a demoted one
        // answers READONLY: either way the connection asks the sentinels again.
      });
    case 'cluster': {
      const {
        retryStrategy,
        enableOfflineQueue,
        lazyConnect,
        host: _host,
        port: _port,
        path: _path,
        sentinels: _sentinels,
        readOnly: _readOnly,
        ...node
      } = options;
      const clusterOptions: ClusterOptions = {
        lazyConnect,
        enableOfflineQueue,
        clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) : retryStrategy,
        redisOptions: { ...node, password: topology.password ?? node.password },
        // Bounded like a fail-fast connection: a cluster that cannot tell its slots is down.
        slotsRefreshTimeout: Math.max(1000, options.connectTimeout ?? 1000),
      };
      return new Cluster(
        topology.nodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOptions,
      );
    }
  }
}
