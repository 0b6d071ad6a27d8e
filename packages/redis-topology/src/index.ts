export {
  parseHostPort,
  redisTopologyOf,
  describeTopology,
  type HostPort,
  type RedisTopology,
  type RedisTopologySettings,
} from './redis-topology';
export { createRedisClient, isClusterClient, type RedisClient } from './redis-client.factory';
export { keyHolders, scanKeys, unlinkMatching } from './redis-scan.util';
export { ShortLivedConnection } from './short-lived-connection';
