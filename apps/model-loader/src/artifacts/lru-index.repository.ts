import { Inject, Injectable } from '@nestjs/common';
import { RedisKeys } from '@strata/cache-keys';
import {
  REDIS_CLIENT,
  STRATA_CONFIG,
  type ServiceConfig,
  type RedisClient,
} from '@strata/service-kit';
import { LOADER_SETTINGS, versionKey, type LoaderSettings } from '../loader.settings';

// Milliseconds with the microseconds as a fraction: two uses within one millisecond (a hit right
// after another version's download) must still be ordered.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`;

/**
 * Marks a use and tells whether the version's download lock is held right now: an evictor holds
 * it while it removes the version, so a hit seen during that window must not be trusted.
 * KEYS: lru, lock. ARGV: member.
 */
const TOUCH = `${NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1])
return redis.call('EXISTS', KEYS[2])
`;

/**
 * Least-recently-used order of the versions on this domain's disk: `RedisKeys.diskLru(domain)`,
 * member `model/version`, score = last use (Unix ms, Redis server time). Shared by every loader
 * of the domain. The disk is the truth about what is cached; this only orders it, and is rebuilt
 * from the disk at startup.
 */
@Injectable()
export class LruIndexRepository {
  private readonly keys: RedisKeys;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    @Inject(STRATA_CONFIG) config: ServiceConfig,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
  ) {
    this.keys = new RedisKeys(config.REDIS_KEY_PREFIX);
  }

  private get key(): string {
    return this.keys.diskLru(this.settings.domain);
  }

  /** Records a use of the version; returns whether its download lock is currently taken. */
  async touch(model: string, version: number): Promise<{ lockHeld: boolean }> {
    const lock = this.keys.artifactLock(this.settings.domain, model, version);
    const held = await this.redis.eval(TOUCH, 2, this.key, lock, versionKey(model, version));
    return { lockHeld: held === 1 };
  }

  /** Last-use time per `model/version`. */
  async lastUses(): Promise<Map<string, number>> {
    const flat = await this.redis.zrange(this.key, 0, -1, 'WITHSCORES');
    const out = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i], Number(flat[i + 1]));
    return out;
  }

  async remove(model: string, version: number): Promise<void> {
    await this.redis.zrem(this.key, versionKey(model, version));
  }

  /**
   * Makes the index describe `present`: versions missing from it are added with their commit
   * time (known ones keep their last use), members no longer on disk are dropped.
   */
  async rebuild(
    present: readonly { model: string; version: number; mtimeMs: number }[],
  ): Promise<void> {
    const members = new Set(present.map((p) => versionKey(p.model, p.version)));
    const known = await this.lastUses();
    const stale = [...known.keys()].filter((m) => !members.has(m));
    const pipeline = this.redis.multi();
    for (const p of present)
      pipeline.zadd(this.key, 'NX', Math.floor(p.mtimeMs), versionKey(p.model, p.version));
    if (stale.length > 0) pipeline.zrem(this.key, ...stale);
    await pipeline.exec();
  }
}
