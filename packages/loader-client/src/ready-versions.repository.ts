import { RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/redis-topology';

/**
 * A warm ensure answered from the loader's index, in one round trip, only when nothing can take
 * the files away while the caller uses them:
 * - the caller's lease is live now, so an evictor that takes the version lock from here on sees
 *   it and keeps the version (the loader checks leases under that lock);
 * - the version lock is free now, so no evictor is between its lease check and the removal (nor a
 *   download between rename and publish);
 * - the loader lists the version as committed (it drops the entry, under the lock, before it
 *   removes files).
 * Then the use is recorded in the LRU index, as the loader's own hit would. Time is Redis's.
 * KEYS: ready, lock, lease, lru. ARGV: `model/version`, lease holder.
 */
const LOOKUP = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local expiry = redis.call('ZSCORE', KEYS[3], ARGV[2])
if not expiry or tonumber(expiry) <= now then return false end
local path = redis.call('HGET', KEYS[1], ARGV[1])
if not path then return false end
redis.call('ZADD', KEYS[4], now, ARGV[1])
return path
`;

/** Member of a domain's LRU index and ready list: `model/version`. */
export function diskMember(model: string, version: number): string {
  return `${model}/${version}`;
}

/**
 * The model-loader's list of verified versions on its domain's disk (`RedisKeys.diskReady`),
 * read by clients. The loader writes it (on every hit and commit, and at startup) and removes an
 * entry under the version's lock before it deletes the files; an entry may outlive its files only
 * in a race the caller detects (the path is gone), never the other way round.
 */
export class ReadyVersions {
  private readonly keys: RedisKeys;

  /** `redis`: a fail-fast connection; `keyPrefix`: REDIS_KEY_PREFIX. */
  constructor(
    private readonly redis: RedisClient,
    keyPrefix: string,
  ) {
    this.keys = new RedisKeys(keyPrefix);
  }

  /**
   * Local path of a verified copy of the version that `holder`'s live lease protects, or null when
   * the loader must be asked (not listed, lease missing or expired, lock taken). Records the use.
   */
  async lookupLeased(
    domain: string,
    model: string,
    version: number,
    holder: string,
  ): Promise<string | null> {
    const k = this.keys;
    const path = await this.redis.eval(
      LOOKUP,
      4,
      k.diskReady(domain),
      k.artifactLock(domain, model, version),
      k.leases(domain, model, version),
      k.diskLru(domain),
      diskMember(model, version),
      holder,
    );
    return typeof path === 'string' ? path : null;
  }
}
