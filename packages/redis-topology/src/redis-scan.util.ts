import type { Redis } from 'ioredis';
import { isClusterClient, type RedisClient } from './redis-client.factory';

/** The servers holding keys: the client itself, or every master of a cluster. */
export function keyHolders(client: RedisClient): Redis[] {
  return isClusterClient(client) ? client.nodes('master') : [client];
}

/** Every key matching `pattern` on every server holding keys (SCAN, never KEYS). */
export async function* scanKeys(
  client: RedisClient,
  pattern: string,
  count = 500,
): AsyncGenerator<{ node: Redis; keys: string[] }> {
  for (const node of keyHolders(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield { node, keys };
    } while (cursor !== '0');
  }
}

/**
 * Unlinks every key matching `pattern`; returns how many went. One UNLINK per key, pipelined on
 * the node that holds it: a multi-key UNLINK would cross hash slots on a cluster.
 */
export async function unlinkMatching(client: RedisClient, pattern: string): Promise<number> {
  let removed = 0;
  for await (const { node, keys } of scanKeys(client, pattern)) {
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.unlink(key);
    for (const [err, n] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      removed += Number(n);
    }
  }
  return removed;
}
