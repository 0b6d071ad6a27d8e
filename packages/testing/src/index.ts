export { uniqueId, testRedisPrefix } from './unique-id.util';
export { freePort } from './free-port.util';
export { waitFor, type WaitOptions } from './wait-for.util';
export { httpGet, type HttpAnswer } from './http.util';
export {
  testRedisUrl,
  testRedisClusterNodes,
  testRedisTopology,
  testRedisClient,
  testRedisEnv,
  testDatabaseBaseUrl,
  databaseUrlFor,
} from './test-targets.util';
export { REPO_ROOT, appMain } from './repo-paths.util';
export { startRedisServer, type RedisServer } from './redis-server.fixture';
export { deleteRedisPrefix } from './redis-cleanup.util';
export { startRedisCluster, type RedisClusterFixture } from './redis-cluster.fixture';
export { startRedisSentinelSet, type RedisSentinelSet } from './redis-sentinel.fixture';
export type { RedisProcess } from './redis-process.util';
export { parseHostPort, type RedisClient, type RedisTopology } from '@strata/redis-topology';
export { createTestDatabase, type TestDatabase } from './test-database.fixture';
export { serviceEnv, type ServiceEnv } from './service-env.factory';
export {
  spawnService,
  spawnProcess,
  portVariable,
  type SpawnedService,
  type SpawnProcessOptions,
  type LogRecord,
  type ExitInfo,
} from './service-process.fixture';
export { describeServiceLifecycle, type LifecycleExpectations } from './service-lifecycle.suite';
export * from './onnx';
