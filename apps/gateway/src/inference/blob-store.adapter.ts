import type { Redis } from 'ioredis';

/** Large input tensors parked in Redis (`RedisKeys.blob`) for one job. */
export class BlobStore {
  constructor(private readonly redis: Redis) {}

  async put(key: string, data: Buffer, ttlMs: number): Promise<void> {
    await this.redis.set(key, data, 'PX', Math.max(1000, Math.ceil(ttlMs)));
  }

  /** Best effort: a blob nobody deletes expires by itself. */
  async delete(keys: readonly string[]): Promise<void> {
    // One DEL per key: each blob has its own hash tag (one DEL of several fails on Cluster).
    await Promise.all(keys.map((k) => this.redis.del(k).catch(() => 0)));
  }
}
