import { Inject, Injectable } from '@nestjs/common';
import { ModelLeases } from '@strata/loader-client';
import { STRATA_LOGGER } from '@strata/service-kit';
import type { Logger } from 'pino';
import { LOADER_SETTINGS, versionKey, type LoaderSettings } from '../loader.settings';
import {
  DiskCacheRepository,
  type CachedVersion,
  type ReservedStaging,
} from './disk-cache.repository';
import { DiskFullError, messageOf, VersionLockTimeoutError } from './loader-errors';
import { LoaderMetrics, type EvictionReason } from './loader.metrics';
import { LruIndexRepository } from './lru-index.repository';
import { VersionLockService, type VersionLock } from './version-lock.service';

export type EvictOutcome = { evicted: true } | { evicted: false; why: string };

interface Freed {
  bytes: number;
  /** Candidates that could not go, with the reason, for the error message. */
  kept: string[];
}

/**
 * Keeps the disk cache under MODEL_DISK_CACHE_MAX_BYTES. Space is reserved under the domain lock
 * (shared by every loader on the disk) by creating the staging directory with a marker naming
 * its size, so concurrent downloads, here or in another loader, never overcommit the cap. A
 * version goes only when nothing uses it: its download lock is free (no download, no other
 * eviction, no hit being answered) and no worker holds a lease on it. Pinned versions never go
 * for space.
 */
@Injectable()
export class EvictionService {
  private readonly pinned: ReadonlySet<string>;
  private usageStarted = 0;
  private usageShown = 0;

  constructor(
    private readonly disk: DiskCacheRepository,
    private readonly lru: LruIndexRepository,
    private readonly locks: VersionLockService,
    private readonly leases: ModelLeases,
    private readonly metrics: LoaderMetrics,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
  ) {
    this.pinned = new Set(settings.pinned.map((p) => versionKey(p.model, p.version)));
    this.metrics.diskCap.set(settings.maxBytes);
  }

  /**
   * Makes room for `bytes` of `model/version` (evicting least recently used versions if the cap
   * would be passed) and returns the staging directory that holds the reservation.
   */
  async reserve(
    model: string,
    version: number,
    bytes: number,
    lock: VersionLock,
  ): Promise<ReservedStaging> {
    const cap = this.settings.maxBytes;
    if (bytes > cap)
      throw new DiskFullError(
        `${model}/${version} needs ${bytes} bytes, more than the whole disk cache (MODEL_DISK_CACHE_MAX_BYTES=${cap})`,
      );
    return this.disk.withDomainLock(async () => {
      const committed = await this.disk.listVersions();
      const used = sumBytes(committed) + (await this.reservedBytes());
      const over = used + bytes - cap;
      if (over > 0) {
        const freed = await this.evictLru(over, 'capacity', committed, versionKey(model, version));
        if (freed.bytes < over)
          throw new DiskFullError(
            `no room for ${model}/${version} (${bytes} bytes): ${used} of ${cap} bytes in use and ` +
              `only ${freed.bytes} could be freed; kept: ${freed.kept.join(', ') || 'nothing cached'}`,
          );
      }
      return this.disk.createStaging({
        model,
        version,
        bytes,
        lockKey: lock.key,
        lockToken: lock.token,
      });
    });
  }

  /**
   * The disk itself is full (ENOSPC) although the cap was respected: frees at least `bytes` by
   * evicting least recently used versions. Returns what was freed.
   */
  async freeForNoSpace(model: string, version: number, bytes: number): Promise<Freed> {
    return this.disk.withDomainLock(async () => {
      const committed = await this.disk.listVersions();
      const freed = await this.evictLru(bytes, 'disk_full', committed, versionKey(model, version));
      await this.refreshUsage();
      return freed;
    });
  }

  /**
   * Removes one version unless it is held by a worker, pinned (unless `reason` is `clear`), or
   * busy for longer than `waitMs` (a download or eviction holds its lock).
   */
  async evictVersion(
    model: string,
    version: number,
    reason: EvictionReason,
    waitMs = 0,
  ): Promise<EvictOutcome> {
    if (reason !== 'clear' && this.pinned.has(versionKey(model, version)))
      return { evicted: false, why: 'pinned (PINNED_MODELS)' };
    let lock: VersionLock | null;
    if (waitMs > 0) {
      try {
        const got = await this.locks.acquire(model, version, async () => false, waitMs);
        lock = 'lock' in got ? got.lock : null;
      } catch (err) {
        if (!(err instanceof VersionLockTimeoutError)) throw err;
        lock = null;
      }
    } else {
      lock = await this.locks.tryAcquire(model, version);
    }
    if (!lock) return { evicted: false, why: 'busy (being downloaded or evicted)' };
    try {
      const holders = await this.leases.holders(this.settings.domain, model, version);
      if (holders.length > 0)
        return {
          evicted: false,
          why: `held by worker${holders.length > 1 ? 's' : ''} ${holders.join(', ')}`,
        };
      // Unlisted first: a client that finds the entry gone asks the loader, which waits for us.
      await this.lru.withdraw(model, version);
      const removed = await this.disk.removeVersion(model, version);
      await this.lru.remove(model, version).catch((err: unknown) => {
        this.logger.warn({ err }, `LRU index: ${messageOf(err)}`);
      });
      if (!removed) return { evicted: false, why: 'not cached' };
      this.metrics.evicted(reason);
      this.logger.info({ model, version, reason }, `evicted ${model}/${version} (${reason})`);
      return { evicted: true };
    } finally {
      await lock.release();
    }
  }

  /**
   * Recomputes the disk usage gauge from the disk. Returns the committed bytes. Calls may
   * overlap (a cold ensure does not wait for its own): the listing started last sets the gauge.
   */
  async refreshUsage(): Promise<number> {
    const seq = ++this.usageStarted;
    const used = sumBytes(await this.disk.listVersions());
    if (seq > this.usageShown) {
      this.usageShown = seq;
      this.metrics.diskUsed.set(used);
    }
    return used;
  }

  private async evictLru(
    need: number,
    reason: EvictionReason,
    committed: readonly CachedVersion[],
    exclude: string,
  ): Promise<Freed> {
    const uses = await this.lru.lastUses().catch(() => new Map<string, number>());
    const lastUse = (v: CachedVersion) => uses.get(versionKey(v.model, v.version)) ?? v.mtimeMs;
    const kept: string[] = [];
    const candidates = committed
      .filter((v) => {
        const key = versionKey(v.model, v.version);
        if (key === exclude) return false;
        if (this.pinned.has(key)) kept.push(`${key} (pinned)`);
        return !this.pinned.has(key);
      })
      .sort((a, b) => lastUse(a) - lastUse(b));
    let bytes = 0;
    for (const v of candidates) {
      if (bytes >= need) break;
      const outcome = await this.evictVersion(v.model, v.version, reason);
      if (outcome.evicted) bytes += v.bytes ?? 0;
      else kept.push(`${versionKey(v.model, v.version)} (${outcome.why})`);
    }
    return { bytes, kept };
  }

  /** Space promised to downloads still running (their download lock is still held). */
  private async reservedBytes(): Promise<number> {
    let total = 0;
    for (const entry of await this.disk.listStaging()) {
      const m = entry.marker;
      if (!m) continue;
      const live = await this.locks.isHeldBy(m.lockKey, m.lockToken).catch(() => true);
      if (live) total += m.bytes;
    }
    return total;
  }
}

function sumBytes(versions: readonly CachedVersion[]): number {
  return versions.reduce((n, v) => n + (v.bytes ?? 0), 0);
}
