import {
  createRedisClient,
  describeTopology,
  isClusterClient,
  parseHostPort,
  redisTopologyOf,
} from '@strata/redis-topology';
import { Cluster } from 'ioredis';

describe('redisTopologyOf', () => {
  it('is standalone on REDIS_URL when no other topology is set', () => {
    expect(redisTopologyOf({ REDIS_URL: 'rediss://u:p@r:6380/2' })).toEqual({
      kind: 'standalone',
      url: 'rediss://u:p@r:6380/2',
    });
  });

  it('is Sentinel with REDIS_SENTINELS and the master group name', () => {
    expect(
      redisTopologyOf({
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_SENTINELS: ['s1:26379', '[::1]:26380'],
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_SENTINEL_PASSWORD: 'sp',
        REDIS_PASSWORD: 'dp',
      }),
    ).toEqual({
      kind: 'sentinel',
      name: 'mymaster',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      sentinelPassword: 'sp',
      password: 'dp',
    });
  });

  it('is Cluster with REDIS_CLUSTER_NODES', () => {
    expect(
      redisTopologyOf({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: ['10.0.0.1:7000'] }),
    ).toEqual({ kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }], password: undefined });
  });

  it('refuses malformed node addresses', () => {
    for (const bad of ['host', 'host:', ':1', 'h:0', 'h:70000', '[::1]', 'a:b:1']) {
      expect(() => parseHostPort(bad)).toThrow(/not a host:port/);
    }
  });
});

describe('describeTopology', () => {
  it('never shows a password', () => {
    const texts = [
      describeTopology({ kind: 'standalone', url: 'rediss://user:hunter2@r:6380' }),
      describeTopology({
        kind: 'sentinel',
        name: 'm',
        sentinels: [{ host: 's', port: 1 }],
        sentinelPassword: 'hunter2',
        password: 'hunter2',
      }),
      describeTopology({
        kind: 'cluster',
        nodes: [{ host: '::1', port: 7000 }],
        password: 'hunter2',
      }),
    ];
    expect(texts).toEqual([
      'standalone rediss://r:6380',
      'sentinel "m" via s:1',
      'cluster seeded by [::1]:7000',
    ]);
  });
});

describe('createRedisClient', () => {
  it('maps the per-connection options onto a Cluster: cluster-wide retry and offline queue, the rest per node', () => {
    const retryStrategy = (times: number) => times;
    const client = createRedisClient(
      { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }], password: 'pw' },
      {
        lazyConnect: true,
        enableOfflineQueue: false,
        retryStrategy,
        maxRetriesPerRequest: null,
        connectionName: 'p:worker',
        connectTimeout: 5000,
      },
    );
    expect(client).toBeInstanceOf(Cluster);
    expect(isClusterClient(client)).toBe(true);
    const opts = (client as Cluster).options;
    expect(opts.enableOfflineQueue).toBe(false);
    expect(opts.clusterRetryStrategy?.(3)).toBe(3);
    expect(opts.redisOptions).toMatchObject({
      maxRetriesPerRequest: null,
      connectionName: 'p:worker',
      password: 'pw',
    });
    expect(opts.redisOptions).not.toHaveProperty('retryStrategy');
    client.disconnect();
  });

  it('points a Sentinel client at the master group, pacing the sentinel search like its retries', () => {
    const client = createRedisClient(
      { kind: 'sentinel', name: 'm', sentinels: [{ host: '127.0.0.1', port: 26379 }] },
      { lazyConnect: true, retryStrategy: () => null },
    );
    expect(isClusterClient(client)).toBe(false);
    const opts = (client as unknown as { options: Record<string, unknown> }).options;
    expect(opts.name).toBe('m');
    expect(opts.sentinels).toEqual([{ host: '127.0.0.1', port: 26379 }]);
    expect((opts.sentinelRetryStrategy as (n: number) => unknown)(1)).toBeNull();
    client.disconnect();
  });
});
