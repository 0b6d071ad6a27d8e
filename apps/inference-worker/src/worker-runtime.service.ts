import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  REDIS_CLIENT,
  ReadinessService,
  STRATA_LOGGER,
  type RedisClient,
} from '@strata/service-kit';
import type { Logger } from 'pino';
import { WorkerEventsSubscriber } from './events/worker-events.subscriber';
import { messageOf } from './inference/infer-errors';
import { LeaseKeeper } from './models/lease-keeper.service';
import { MODEL_SOURCE, type ModelSource } from './models/model-source';
import { modelKey } from './models/model-ref';
import { SessionPool } from './models/session-pool.service';
import { WORKER_SETTINGS, type WorkerSettings } from './worker-settings';

const PINNED_RETRY_MAX_MS = 30_000;
const SOURCE_CLOSE_WAIT_MS = 2000;

/**
 * Starts and stops what runs beside the queue consumer: the pool's idle and memory checks, lease
 * refreshes, the events subscriber, and the loading of pinned models (the `pinned-models`
 * readiness check passes once they are all loaded; a failed load is retried with backoff).
 * On shutdown, after the queue workers drained: sessions closed, leases released.
 */
@Injectable()
export class WorkerRuntime implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly pinnedPending = new Map<string, string>();
  private stopping = false;

  constructor(
    private readonly pool: SessionPool,
    private readonly leases: LeaseKeeper,
    private readonly events: WorkerEventsSubscriber,
    @Inject(MODEL_SOURCE) private readonly source: ModelSource,
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    readiness: ReadinessService,
  ) {
    for (const ref of settings.pinned) this.pinnedPending.set(modelKey(ref), 'not loaded yet');
    if (settings.pinned.length > 0) {
      readiness.register({ name: 'pinned-models', check: () => this.checkPinned() });
    }
  }

  /** Throws while a pinned model is not loaded (the readiness check). */
  checkPinned(): void {
    if (this.pinnedPending.size === 0) return;
    const [key, why] = [...this.pinnedPending][0];
    const more = this.pinnedPending.size > 1 ? ` (+${this.pinnedPending.size - 1} more)` : '';
    throw new Error(`pinned ${key}: ${why}${more}`);
  }

  onApplicationBootstrap(): void {
    this.pool.start();
    this.leases.start();
    // Not awaited: with Redis down at boot the SUBSCRIBE waits for it, and the HTTP server (and
    // /readyz saying why) must come up meanwhile.
    this.events.start().catch((err) => {
      this.logger.warn({ err }, `events channel not subscribed: ${messageOf(err)}`);
    });
    if (this.settings.pinned.length > 0) void this.loadAllPinned();
  }

  private async loadAllPinned(): Promise<void> {
    // Loading takes a lease in Redis first; the fail-fast connection refuses commands until it
    // is connected, which at boot it may not be yet.
    if (this.redis.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        this.redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await Promise.all(this.settings.pinned.map((ref) => this.loadPinned(ref)));
  }

  private async loadPinned(ref: { model: string; version: number }): Promise<void> {
    const key = modelKey(ref);
    for (
      let attempt = 0, wait = 1000;
      !this.stopping;
      attempt++, wait = Math.min(wait * 2, PINNED_RETRY_MAX_MS)
    ) {
      try {
        await this.pool.ensureLoaded(ref);
        this.pinnedPending.delete(key);
        return;
      } catch (err) {
        this.pinnedPending.set(key, messageOf(err));
        this.logger.warn(
          { err, attempt },
          `pinned ${key} not loaded, retrying in ${wait} ms: ${messageOf(err)}`,
        );
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.pool.stop();
    this.leases.stop();
    // The loader client's event stream quits its Redis connection politely, which waits for
    // Redis; with Redis down that would hold shutdown until SHUTDOWN_TIMEOUT. Nothing is lost by
    // not waiting: no call is pending once the queue workers have drained.
    await Promise.race([
      this.source.close?.().catch(() => undefined),
      new Promise((r) => setTimeout(r, SOURCE_CLOSE_WAIT_MS).unref()),
    ]);
  }
}
