import { createRedisClient, unlinkMatching, type RedisTopology } from '@strata/redis-topology';
import { testRedisTopology } from './test-targets.util';

/**
 * Deletes every key under `prefix:` (and BullMQ's `prefix:{queue}:…`) in a shared Redis — on
 * every master when it is a cluster. `target`: a URL or a topology; default the test Redis.
 */
export async function deleteRedisPrefix(
  prefix: string,
  target: string | RedisTopology = testRedisTopology(),
): Promise<number> {
  const topology: RedisTopology =
    typeof target === 'string' ? { kind: 'standalone', url: target } : target;
  const client = createRedisClient(topology, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await unlinkMatching(client, `${prefix}:*`);
  } finally {
    client.disconnect();
  }
}
