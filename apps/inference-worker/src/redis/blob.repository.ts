import type { RedisClient } from '@strata/service-kit';

/** Deletions that go out at once, without waiting for the linger to end. */
const MAX_QUEUED = 256;

/**
 * Large input tensors the gateway parked in Redis (`RedisKeys.blob`) for one job. Reads are on
 * the job's path; deletions are not, and wait up to `lingerMs` to go out together (one pipeline
 * on a single node; one DEL per key on Cluster, where each blob has its own hash tag), so a blob
 * costs this worker one Redis write instead of two.
 */
export class BlobRepository {
  private queued: { key: string; done: () => void }[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    private readonly lingerMs = 20,
  ) {}

  /** The bytes, or undefined when the blob is gone (expired, or already used). */
  async read(key: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(key)) ?? undefined;
  }

  /** Resolves once the keys are deleted (best effort: a blob nobody deletes expires). */
  delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let left = keys.length;
      const done = () => {
        if (--left === 0) resolve();
      };
      for (const key of keys) this.queued.push({ key, done });
      if (this.queued.length >= MAX_QUEUED) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.lingerMs).unref();
    });
  }

  /** Deletes what is waiting now. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    const ignore = () => undefined;
    if ((this.redis as { isCluster?: boolean }).isCluster) {
      await Promise.all(batch.map((b) => this.redis.del(b.key).catch(ignore)));
    } else {
      const pipeline = this.redis.pipeline();
      for (const b of batch) pipeline.del(b.key);
      await pipeline.exec().catch(ignore);
    }
    for (const b of batch) b.done();
  }

  /** Nest: jobs have drained by now (the queue host closes first); their blobs go. */
  onModuleDestroy(): Promise<void> {
    return this.flush();
  }
}
