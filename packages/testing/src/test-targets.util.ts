import {
  createRedisClient,
  parseHostPort,
  type RedisClient,
  type RedisTopology,
} from '@strata/redis-topology';
import type { RedisOptions } from 'ioredis';

// Where tests find the shared Redis and Postgres of the machine; CI may point elsewhere.

export function testRedisUrl(): string {
  return process.env.STRATA_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
}

/** Seed nodes of the Redis Cluster tests run against, when STRATA_TEST_REDIS_CLUSTER_NODES is set. */
export function testRedisClusterNodes(): string[] | undefined {
  const nodes = (process.env.STRATA_TEST_REDIS_CLUSTER_NODES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return nodes.length > 0 ? nodes : undefined;
}

/**
 * The shared Redis of the tests: standalone at `testRedisUrl()`, or the cluster named by
 * STRATA_TEST_REDIS_CLUSTER_NODES (`pnpm test:e2e:cluster` starts one and sets it).
 */
export function testRedisTopology(): RedisTopology {
  const nodes = testRedisClusterNodes();
  if (nodes) return { kind: 'cluster', nodes: nodes.map(parseHostPort) };
  return { kind: 'standalone', url: testRedisUrl() };
}

/** A client of the tests' own on the shared test Redis, whatever its topology. */
export function testRedisClient(options: RedisOptions = {}): RedisClient {
  return createRedisClient(testRedisTopology(), options);
}

/** The variables that point a spawned service at the shared test Redis. */
export function testRedisEnv(): Record<string, string> {
  const nodes = testRedisClusterNodes();
  return nodes ? { REDIS_CLUSTER_NODES: nodes.join(',') } : { REDIS_URL: testRedisUrl() };
}

/** A database URL without `?schema=`; test schemas are created inside this database. */
export function testDatabaseBaseUrl(): string {
  return process.env.STRATA_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
}

/** `testDatabaseBaseUrl()` with `?schema=<schema>`. */
export function databaseUrlFor(schema: string): string {
  const url = new URL(testDatabaseBaseUrl());
  url.searchParams.set('schema', schema);
  return url.toString();
}
