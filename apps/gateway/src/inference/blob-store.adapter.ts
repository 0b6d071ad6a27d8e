import type { RedisClient } from '@strata/service-kit';

/**
 * Large input tensors parked in Redis (`RedisKeys.blob`) for one job: written by `InferQueue`
 * with the job (same connection, so in order), deleted here when the job was never taken.
 */
export class BlobStore {
  constructor(private readonly redis: RedisClient) {}

  /** Best effort: a blob nobody deletes expires by itself. */
  async delete(keys: readonly string[]): Promise<void> {
    // One DEL per key: each blob has its own hash tag (one DEL of several fails on Cluster).
    await Promise.all(keys.map((k) => this.redis.del(k).catch(() => 0)));
  }
}
