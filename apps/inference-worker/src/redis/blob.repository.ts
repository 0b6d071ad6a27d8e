import type { Redis } from 'ioredis';

/** Large input tensors the gateway parked in Redis (`RedisKeys.blob`) for one job. */
export class BlobRepository {
  constructor(private readonly redis: Redis) {}

  /** The bytes, or undefined when the blob is gone (expired, or already used). */
  async read(key: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(key)) ?? undefined;
  }

  async delete(keys: readonly string[]): Promise<void> {
    // One DEL per key: blobs carry their own hash tags, so one DEL of several fails on Cluster.
    await Promise.all(keys.map((k) => this.redis.del(k)));
  }
}
