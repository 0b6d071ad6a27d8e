import { randomUUID } from 'node:crypto';
import type { RedisKeys } from '@strata/cache-keys';
import calculateSlot from 'cluster-key-slot';
import type { RedisClient } from '@strata/service-kit';
import { Cluster } from 'ioredis';

// Compare-and-delete: a holder whose lock expired and was taken by another gateway must not
// delete the new holder's lock.
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The prediction cache's Redis operations: entries (`pred`), version generations (`gen`),
 * coalescing locks (`lock:pred`) and the `pred-done` notifications. Every key comes from
 * RedisKeys; nothing here decides policy.
 */
export class PredictionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** The version's cache generation ('0' until first bumped). */
  async generation(model: string, version: number): Promise<string> {
    return (await this.redis.get(this.keys.generation(model, version))) ?? '0';
  }

  get(digest: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.prediction(digest));
  }

  /**
   * Entries of many digests, in order. One MGET on a single Redis; on a Cluster one MGET per
   * hash slot (each digest is its own hash tag, so a batch spans slots), run together.
   */
  async getMany(digests: readonly string[]): Promise<(Buffer | null)[]> {
    if (digests.length === 0) return [];
    const keys = digests.map((d) => this.keys.prediction(d));
    if (!(this.redis instanceof Cluster)) return this.redis.mgetBuffer(...keys);
    const bySlot = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key);
      const group = bySlot.get(slot);
      if (group) group.push(i);
      else bySlot.set(slot, [i]);
    });
    const out: (Buffer | null)[] = new Array<Buffer | null>(keys.length).fill(null);
    await Promise.all(
      [...bySlot.values()].map(async (indexes) => {
        const values = await this.redis.mgetBuffer(...indexes.map((i) => keys[i]));
        indexes.forEach((index, j) => (out[index] = values[j] ?? null));
      }),
    );
    return out;
  }

  async set(digest: string, value: Buffer, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.keys.prediction(digest), value, 'EX', ttlSeconds);
  }

  /** Stores several entries in one round trip on a single Redis (a pipeline); per key on Cluster. */
  async setMany(
    entries: readonly { digest: string; value: Buffer }[],
    ttlSeconds: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    if (this.redis instanceof Cluster) {
      await Promise.all(entries.map((e) => this.set(e.digest, e.value, ttlSeconds)));
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const e of entries)
      pipeline.set(this.keys.prediction(e.digest), e.value, 'EX', ttlSeconds);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async delete(digest: string): Promise<void> {
    await this.redis.del(this.keys.prediction(digest));
  }

  /** A token when this gateway now computes the digest for everyone, undefined when another does. */
  async acquireLock(digest: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const ok = await this.redis.set(this.keys.predictionLock(digest), token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? token : undefined;
  }

  async lockHeld(digest: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.predictionLock(digest))) === 1;
  }

  async releaseLock(digest: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_LOCK, 1, this.keys.predictionLock(digest), token);
  }

  async notify(message: string): Promise<void> {
    await this.redis.publish(this.keys.predictionsChannel(), message);
  }
}
