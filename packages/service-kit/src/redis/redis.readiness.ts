import type { RedisClient } from '@strata/redis-topology';

/**
 * Readiness of Redis: a PING on a fail-fast connection (never the blocking worker one). While the
 * connection is down it fails at once with `outage` (state and last error) instead of the
 * client's generic offline-queue message.
 */
export async function pingRedis(
  client: RedisClient,
  outage?: () => string | undefined,
): Promise<void> {
  const down = outage?.();
  if (down) throw new Error(down);
  const answer = await client.ping();
  if (answer !== 'PONG') throw new Error(`unexpected PING answer ${JSON.stringify(answer)}`);
}
