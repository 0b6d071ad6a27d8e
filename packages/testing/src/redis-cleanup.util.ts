import { Redis } from 'ioredis';
import { testRedisUrl } from './test-targets.util';

/** Deletes every key under `prefix:` (and BullMQ's `prefix:{queue}:…`) in a shared Redis. */
export async function deleteRedisPrefix(prefix: string, url = testRedisUrl()): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await client.connect();
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) removed += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}
