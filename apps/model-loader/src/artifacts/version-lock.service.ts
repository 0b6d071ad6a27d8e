import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { RedisKeys } from '@strata/cache-keys';
import {
  REDIS_CLIENT,
  STRATA_CONFIG,
  STRATA_LOGGER,
  type ServiceConfig,
  type RedisClient,
} from '@strata/service-kit';
import type { Logger } from 'pino';
import { LOADER_SETTINGS, type LoaderSettings } from '../loader.settings';
import { VersionLockTimeoutError } from './loader-errors';
import { LoaderMetrics } from './loader.metrics';

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

export interface VersionLock {
  readonly key: string;
  readonly token: string;
  /** False once a renewal found the lock expired or taken (logged; the work may go on). */
  readonly held: boolean;
  release(): Promise<void>;
}

export type LockOutcome = { lock: VersionLock } | { done: true };

const POLL_MIN_MS = 10;
const POLL_MAX_MS = 250;

/**
 * The cross-process lock of one version in one cache domain (`RedisKeys.artifactLock`): SET NX PX
 * with a random token, renewed every third of its TTL while held, released with a
 * compare-and-delete so an expired holder never removes a successor's lock.
 */
@Injectable()
export class VersionLockService {
  private readonly keys: RedisKeys;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    @Inject(STRATA_CONFIG) config: ServiceConfig,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
    private readonly metrics: LoaderMetrics,
  ) {
    this.keys = new RedisKeys(config.REDIS_KEY_PREFIX);
  }

  keyOf(model: string, version: number): string {
    return this.keys.artifactLock(this.settings.domain, model, version);
  }

  /** Takes the lock if it is free; null when someone holds it. */
  async tryAcquire(model: string, version: number): Promise<VersionLock | null> {
    const key = this.keyOf(model, version);
    const token = randomUUID();
    const ok = await this.redis.set(key, token, 'PX', this.settings.lockTtlMs, 'NX');
    return ok === 'OK' ? this.holding(key, token, `${model}/${version}`) : null;
  }

  /**
   * Waits until the lock is ours, or until `isDone()` says the work it guards was done by its
   * holder (checked before every attempt). Bounded by ARTIFACT_DOWNLOAD_LOCK_TIMEOUT.
   */
  async acquire(
    model: string,
    version: number,
    isDone: () => Promise<boolean>,
    timeoutMs = this.settings.lockTimeoutMs,
  ): Promise<LockOutcome> {
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    let pause = POLL_MIN_MS;
    try {
      for (;;) {
        const lock = await this.tryAcquire(model, version);
        if (lock) return { lock };
        if (await isDone()) return { done: true };
        if (Date.now() >= deadline) throw new VersionLockTimeoutError(model, version, timeoutMs);
        await sleep(Math.min(pause, Math.max(deadline - Date.now(), 1)));
        pause = Math.min(pause * 2, POLL_MAX_MS);
      }
    } finally {
      this.metrics.lockWait.observe((performance.now() - started) / 1000);
    }
  }

  /** Whether `token` still holds `key` (for staging directories of other loaders). */
  async isHeldBy(key: string, token: string): Promise<boolean> {
    return (await this.redis.get(key)) === token;
  }

  private holding(key: string, token: string, what: string): VersionLock {
    let held = true;
    let released = false;
    const ttl = this.settings.lockTtlMs;
    const timer = setInterval(
      () => {
        this.redis.eval(RENEW, 1, key, token, String(ttl)).then(
          (renewed) => {
            if (renewed !== 1 && held && !released) {
              held = false;
              this.logger.warn(
                { lock: key },
                `download lock of ${what} was lost (expired or taken)`,
              );
            }
          },
          (err: Error) =>
            this.logger.warn({ err, lock: key }, `renewing the lock of ${what}: ${err.message}`),
        );
      },
      Math.max(Math.floor(ttl / 3), 100),
    );
    timer.unref();
    return {
      key,
      token,
      get held() {
        return held;
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, key, token).catch((err: Error) => {
          // It expires by itself within the TTL.
          this.logger.warn({ err, lock: key }, `releasing the lock of ${what}: ${err.message}`);
        });
      },
    };
  }
}
