import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { describeMismatches, verifyDirectory } from '@strata/artifact-layout';
import { ReadinessService, ServiceLifecycle, STRATA_LOGGER } from '@strata/service-kit';
import type { Logger } from 'pino';
import { LOADER_SETTINGS, versionKey, type LoaderSettings } from '../loader.settings';
import { ArtifactCacheService } from './artifact-cache.service';
import {
  DiskCacheRepository,
  type CachedVersion,
  type StagingEntry,
} from './disk-cache.repository';
import { EvictionService } from './eviction.service';
import { messageOf } from './loader-errors';
import { LoaderMetrics } from './loader.metrics';
import { LruIndexRepository } from './lru-index.repository';
import { StartupGate } from './startup-gate';
import { VersionLockService } from './version-lock.service';

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * Startup reconciliation, before the loader reports ready: leftover staging directories of dead
 * downloads are removed; every cached version is checked against its manifest (sizes always,
 * sha256 with VERIFY_ON_START=true) and dropped when corrupt; the LRU index is rebuilt from the
 * disk; then PINNED_MODELS are fetched. The `artifact-cache` readiness check says which step it
 * is at until all of that is done.
 */
@Injectable()
export class ReconcileService implements OnApplicationBootstrap {
  private stopping = false;
  private running?: Promise<void>;

  constructor(
    private readonly disk: DiskCacheRepository,
    private readonly lru: LruIndexRepository,
    private readonly locks: VersionLockService,
    private readonly eviction: EvictionService,
    private readonly cache: ArtifactCacheService,
    private readonly metrics: LoaderMetrics,
    private readonly gate: StartupGate,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
    readiness: ReadinessService,
    lifecycle: ServiceLifecycle,
  ) {
    readiness.register({
      name: 'artifact-cache',
      check: () => {
        if (this.gate.status !== undefined) throw new Error(this.gate.status);
      },
    });
    lifecycle.onDrain('artifact-startup', async () => {
      this.stopping = true;
    });
  }

  onApplicationBootstrap(): void {
    this.running = this.run();
  }

  /** Resolves when startup work has finished (or stopped); for tests. */
  whenDone(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.reconcileDisk();
        break;
      } catch (err) {
        this.gate.status = `reconciling the disk cache failed, retrying: ${messageOf(err)}`;
        this.logger.error({ err }, this.gate.status);
        await sleep(backoff(attempt));
      }
    }
    this.gate.markDiskReady();
    await this.prefetchPinned();
    if (!this.stopping) this.gate.status = undefined;
  }

  private async reconcileDisk(): Promise<void> {
    // Until the disk is checked, clients with a lease must ask the loader (which waits for the
    // check) rather than trust a list that may name a version about to be dropped as corrupt.
    await this.lru.withdrawAll().catch((err: unknown) => {
      this.logger.warn({ err }, `clearing the ready list failed: ${messageOf(err)}`);
    });
    const { staging, dropped, kept } = await this.disk.withDomainLock(async () => ({
      staging: await this.sweepStaging(),
      ...(await this.checkVersions()),
    }));
    await this.lru.rebuild(kept).catch((err: unknown) => {
      this.logger.warn({ err }, `rebuilding the LRU index failed: ${messageOf(err)}`);
    });
    const used = await this.eviction.refreshUsage();
    this.logger.info(
      {
        stagingRemoved: staging,
        corruptRemoved: dropped,
        cached: kept.length,
        usedBytes: used,
        capBytes: this.settings.maxBytes,
      },
      `disk cache reconciled: ${kept.length} version(s), ${used} bytes; removed ${staging.length} staging leftover(s) and ${dropped.length} corrupt version(s)`,
    );
  }

  /** Removes staging directories whose download is over (its writer died or its lock expired). */
  private async sweepStaging(): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await this.disk.listStaging()) {
      if (await this.isAbandoned(entry)) {
        await this.disk.removeStaging(entry);
        removed.push(entry.name);
      }
    }
    return removed;
  }

  private async isAbandoned(entry: StagingEntry): Promise<boolean> {
    const m = entry.marker;
    // Trash, or a directory without its marker: reservations are only made under the domain
    // lock we hold, so no live download can be in that state right now.
    if (!m) return true;
    if (this.disk.isDeadLocalWriter(m)) return true;
    try {
      return !(await this.locks.isHeldBy(m.lockKey, m.lockToken));
    } catch {
      // Without Redis, a download on another host may still be alive: keep it.
      return false;
    }
  }

  private async checkVersions(): Promise<{ dropped: string[]; kept: CachedVersion[] }> {
    const dropped: string[] = [];
    const kept: CachedVersion[] = [];
    for (const v of await this.disk.listVersions()) {
      const key = versionKey(v.model, v.version);
      let problem: string | undefined;
      if (!v.manifest) problem = 'manifest.json is missing or invalid';
      else {
        const report = await verifyDirectory(v.dir, v.manifest, {
          checksums: this.settings.verifyOnStart,
        });
        if (!report.ok) problem = describeMismatches(report.mismatches).replace(/\n/g, '; ');
      }
      if (problem === undefined) {
        kept.push(v);
        continue;
      }
      this.logger.warn(
        { model: v.model, version: v.version },
        `dropping corrupt ${key}: ${problem}`,
      );
      this.metrics.verificationFailures.inc({ phase: 'startup' });
      if (await this.disk.removeVersion(v.model, v.version)) this.metrics.evicted('corrupt');
      dropped.push(key);
    }
    return { dropped, kept };
  }

  private async prefetchPinned(): Promise<void> {
    const total = this.settings.pinned.length;
    let pending = [...this.settings.pinned];
    for (let attempt = 0; pending.length > 0 && !this.stopping; attempt++) {
      const failed: typeof pending = [];
      let lastError = '';
      for (const ref of pending) {
        this.gate.status = `fetching PINNED_MODELS: ${total - pending.length}/${total} ready`;
        try {
          await this.cache.ensure(ref);
        } catch (err) {
          failed.push(ref);
          lastError = `${versionKey(ref.model, ref.version)}: ${messageOf(err)}`;
          this.logger.error({ err, ...ref }, `prefetching pinned ${lastError}`);
        }
      }
      pending = failed;
      if (pending.length > 0) {
        this.gate.status = `fetching PINNED_MODELS: ${total - pending.length}/${total} ready; ${lastError}`;
        await sleep(backoff(attempt));
      }
    }
    if (total > 0 && pending.length === 0)
      this.logger.info(
        `PINNED_MODELS ready: ${this.settings.pinned.map((p) => versionKey(p.model, p.version)).join(', ')}`,
      );
  }
}

function backoff(attempt: number): number {
  return Math.min(RETRY_MIN_MS * 2 ** attempt, RETRY_MAX_MS);
}
