import type { ModelVersionRef } from '@strata/cache-keys';
import type { Logger } from 'pino';
import type { PlacementRepository } from '../redis/placement.repository';
import { messageOf } from '../inference/infer-errors';
import type { LeaseStore } from './model-source';
import { modelKey } from './model-ref';

interface Held {
  readonly ref: ModelVersionRef;
  count: number;
  /** The session is open: the placement entry is kept too. */
  placed: boolean;
}

export interface LeaseKeeperOptions {
  readonly domain: string;
  readonly workerId: string;
  readonly ttlMs: number;
}

/**
 * Keeps this worker's lease (so the loader never evicts files in use) and placement entry (so
 * the gateway can list loaded models) on every version it holds, refreshed every third of the
 * TTL. Holds are counted: a version being unloaded while it loads again keeps its lease until
 * both are done.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly leases: LeaseStore,
    private readonly placement: PlacementRepository,
    private readonly options: LeaseKeeperOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.refreshAll(),
      Math.max(Math.floor(this.options.ttlMs / 3), 100),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes the lease before the files are asked for (the loader may not evict them after). */
  async hold(ref: ModelVersionRef): Promise<void> {
    const key = modelKey(ref);
    const entry = this.held.get(key);
    if (entry) {
      entry.count += 1;
      return;
    }
    this.held.set(key, { ref, count: 1, placed: false });
    const { domain, workerId, ttlMs } = this.options;
    await this.leases.acquireLease(domain, ref.model, ref.version, workerId, ttlMs);
  }

  /** Marks the version loaded here (after the session is open). */
  async placed(ref: ModelVersionRef): Promise<void> {
    const entry = this.held.get(modelKey(ref));
    if (!entry) return;
    entry.placed = true;
    await this.placement
      .mark(ref, this.options.workerId, this.options.ttlMs)
      .catch((err) =>
        this.logger.warn(
          { err, model: ref.model, version: ref.version },
          `placement of ${modelKey(ref)} not written: ${messageOf(err)}`,
        ),
      );
  }

  /** Gives up one hold; the last one releases the lease and the placement entry. */
  async drop(ref: ModelVersionRef): Promise<boolean> {
    const key = modelKey(ref);
    const entry = this.held.get(key);
    if (!entry) return false;
    entry.count -= 1;
    if (entry.count > 0) return false;
    this.held.delete(key);
    const { domain, workerId } = this.options;
    await Promise.all([
      this.leases.releaseLease(domain, ref.model, ref.version, workerId),
      this.placement.unmark(ref, workerId),
    ]).catch((err) =>
      this.logger.warn(
        { err, model: ref.model, version: ref.version },
        `lease of ${key} not released (it expires by itself): ${messageOf(err)}`,
      ),
    );
    return true;
  }

  isHeld(ref: ModelVersionRef): boolean {
    return this.held.has(modelKey(ref));
  }

  async refreshAll(): Promise<void> {
    const { domain, workerId, ttlMs } = this.options;
    await Promise.all(
      [...this.held.values()].map(async ({ ref, placed }) => {
        try {
          const live = await this.leases.refreshLease(
            domain,
            ref.model,
            ref.version,
            workerId,
            ttlMs,
          );
          if (!live)
            this.logger.warn(
              { model: ref.model, version: ref.version },
              `lease of ${modelKey(ref)} had lapsed; renewed`,
            );
          if (placed) await this.placement.mark(ref, workerId, ttlMs);
        } catch (err) {
          this.logger.warn(
            { err, model: ref.model, version: ref.version },
            `lease of ${modelKey(ref)} not refreshed: ${messageOf(err)}`,
          );
        }
      }),
    );
  }
}
