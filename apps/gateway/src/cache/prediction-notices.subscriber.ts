import type { OnModuleInit } from '@nestjs/common';
import type { RedisClient } from '@strata/service-kit';
import type { Logger } from 'pino';
import { decodeNotice, type PredictionNotice } from './prediction-notice';

/**
 * One subscription per gateway to the `pred-done` channel; hands each notice to the requests
 * of this gateway waiting on that digest. Notices for digests nobody here waits on are dropped.
 */
export class PredictionNoticesSubscriber implements OnModuleInit {
  private readonly waiters = new Map<string, Set<(notice: PredictionNotice) => void>>();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.start();
  }

  start(): void {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || this.waiters.size === 0) return;
      const notice = decodeNotice(message);
      if (!notice) return;
      const set = this.waiters.get(notice.d);
      if (!set) return;
      this.waiters.delete(notice.d);
      for (const wake of set) wake(notice);
    });
    // Not awaited: with Redis down the gateway still starts; waiters then fall back to polling.
    this.subscriber.subscribe(this.channel).catch((err: unknown) => {
      this.logger.warn({ err }, 'prediction notices: subscribe failed; waiters poll instead');
    });
  }

  /** The next notice for `digest`, or undefined after `timeoutMs`. */
  wait(digest: string, timeoutMs: number): Promise<PredictionNotice | undefined> {
    return new Promise((resolve) => {
      let set = this.waiters.get(digest);
      if (!set) {
        set = new Set();
        this.waiters.set(digest, set);
      }
      const own = set;
      const wake = (notice: PredictionNotice | undefined): void => {
        clearTimeout(timer);
        own.delete(wake);
        if (own.size === 0 && this.waiters.get(digest) === own) this.waiters.delete(digest);
        resolve(notice);
      };
      const timer = setTimeout(() => wake(undefined), timeoutMs);
      timer.unref();
      own.add(wake);
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
