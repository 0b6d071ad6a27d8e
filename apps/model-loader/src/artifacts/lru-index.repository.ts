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
 * Marks a use, lists the version as ready (clients holding a lease may then skip the queue), and
 * tells whether the version's download lock is held right now: an evictor holds it while it
 * removes the version, so a hit seen during that window must not be trusted.
 * KEYS: lru, lock, ready. ARGV: member, path.
 */
const TOUCH = `${NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return redis.call('EXISTS', KEYS[2])
`;

/**
 * Least-recently-used order of the versions on this domain's disk: `RedisKeys.diskLru(domain)`,
 * member `model/version`, score = last use (Unix ms, Redis server time). Shared by every loader
 * of the domain. The disk is the truth about what is cached; this only orders it, and is rebuilt
 * from the disk at startup.
 *
 * Alongside, the ready list `RedisKeys.diskReady(domain)` (member → path) that
 * `@strata/loader-client` reads to answer a leased warm ensure without the queue. An entry is
 * written whenever the loader answers with that path and removed, under the version lock, before
 * the files go (see `ReadyVersions` for why that order makes the client's shortcut safe).
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

  private get readyKey(): string {
    return this.keys.diskReady(this.settings.domain);
  }

  /**
   * Records a use of the version committed at `path` and lists it as ready; returns whether its
   * download lock is currently taken.
   */
  async touch(model: string, version: number, path: string): Promise<{ lockHeld: boolean }> {
    const lock = this.keys.artifactLock(this.settings.domain, model, version);
    const held = await this.redis.eval(
      TOUCH,
      3,
      this.key,
      lock,
      this.readyKey,
      versionKey(model, version),
      path,
    );
    return { lockHeld: held === 1 };
  }

  /** Unlists the version before its files go (the caller holds its version lock). */
  async withdraw(model: string, version: number): Promise<void> {
    await this.redis.hdel(this.readyKey, versionKey(model, version));
  }

  /** Unlists every version, while startup checks the disk (clients ask the loader meanwhile). */
  async withdrawAll(): Promise<void> {
    await this.redis.del(this.readyKey);
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
   * time (known ones keep their last use), members no longer on disk are dropped; each present
   * version is listed as ready at its `dir`.
   */
  async rebuild(
    present: readonly { model: string; version: number; mtimeMs: number; dir: string }[],
  ): Promise<void> {
    const members = new Set(present.map((p) => versionKey(p.model, p.version)));
    const known = await this.lastUses();
    const stale = [...known.keys()].filter((m) => !members.has(m));
    const pipeline = this.redis.multi();
    for (const p of present) {
      pipeline.zadd(this.key, 'NX', Math.floor(p.mtimeMs), versionKey(p.model, p.version));
      pipeline.hset(this.readyKey, versionKey(p.model, p.version), p.dir);
    }
    if (stale.length > 0) pipeline.zrem(this.key, ...stale);
    await pipeline.exec();
  }
}
