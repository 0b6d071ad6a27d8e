import type { ModelVersionRef, RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';

// Live members of one placement set by the Redis server's clock, as the workers write them.
const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`;

/** Index members this much past their expiry are removed when the index is read. */
const INDEX_GRACE_MS = 10 * 60_000;

export interface Placement extends ModelVersionRef {
  /** Workers that have the version loaded now. */
  workers: string[];
}

/**
 * Reads the workers' placement records: the index (`RedisKeys.placementIndex`) names the
 * versions, each version's `placement` set names the workers holding it (entries expire unless
 * the worker refreshes them, so a dead worker drops out by itself).
 */
export class PlacementReader {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly now: () => number = Date.now,
  ) {}

  async loaded(): Promise<Placement[]> {
    const index = this.keys.placementIndex();
    const cutoff = this.now() - INDEX_GRACE_MS;
    const members = await this.redis.zrangebyscore(index, cutoff, '+inf');
    void this.redis.zremrangebyscore(index, '-inf', `(${cutoff}`).catch(() => 0);
    const refs = members.flatMap((m): ModelVersionRef[] => {
      const slash = m.lastIndexOf('/');
      const version = Number(m.slice(slash + 1));
      return slash > 0 && Number.isSafeInteger(version)
        ? [{ model: m.slice(0, slash), version }]
        : [];
    });
    const placements = await Promise.all(
      refs.map(async (ref) => ({ ...ref, workers: await this.workers(ref) })),
    );
    return placements
      .filter((p) => p.workers.length > 0)
      .sort((a, b) => (a.model === b.model ? a.version - b.version : a.model < b.model ? -1 : 1));
  }

  async workers(ref: ModelVersionRef): Promise<string[]> {
    const live = await this.redis.eval(LIVE, 1, this.keys.placement(ref.model, ref.version));
    return Array.isArray(live) ? live.map(String).sort() : [];
  }
}
