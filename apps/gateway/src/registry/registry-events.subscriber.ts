import { parseApiKeyEvent } from '@strata/api-keys';
import type { RedisClient } from '@strata/service-kit';
import type { Logger } from 'pino';
import type { ApiKeyAuthService } from '../auth/api-key-auth.service';
import type { ModelMetadataService } from './model-metadata.service';

/** What the events drop: the process levels of the metadata and auth caches. */
export interface InvalidationTargets {
  metadata: Pick<ModelMetadataService, 'invalidate'>;
  auth: Pick<ApiKeyAuthService, 'forget' | 'forgetAll'>;
}

/**
 * Listens on the events channel and drops the gateway's in-process copies the moment another
 * process changed the truth: registry events (`model-published`, `alias-moved`,
 * `alias-removed`, `version-deleted`, `model-deleted`, @strata/model-registry) drop the
 * metadata of the model they name; `key-revoked` (@strata/api-keys) drops that key's
 * verification. The publishers invalidated the Redis level before broadcasting. Other messages
 * (worker commands, types this version does not know) are ignored.
 *
 * While Redis is away nothing arrives: the process TTLs bound how stale a copy can get, and
 * after the subscription is back every process copy is dropped (events of the outage are lost).
 */
export class RegistryEventsSubscriber {
  private subscribedOnce = false;
  private firstSubscribe: Promise<void> = Promise.resolve();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly targets: InvalidationTargets,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      this.handle(message);
    });
    this.subscriber.on('ready', () => {
      if (!this.subscribedOnce) return;
      // ioredis resubscribes by itself on reconnect; this SUBSCRIBE is answered after that one,
      // so what is dropped here cannot be refilled from a change whose event was missed.
      this.subscriber.subscribe(this.channel).then(
        () => {
          this.logger.info('cache events: subscribed again; dropped every in-process copy');
          this.dropAll();
        },
        (err: unknown) => this.logger.warn({ err }, 'cache events: resubscribe failed'),
      );
    });
    // Not awaited at boot: with Redis down the gateway still starts (and subscribes later).
    this.firstSubscribe = this.subscriber.subscribe(this.channel).then(
      () => {
        this.subscribedOnce = true;
      },
      (err: unknown) => {
        this.logger.warn({ err }, 'cache events: subscribe failed; caches fall back to their TTLs');
      },
    );
  }

  /** Settles once the first SUBSCRIBE was answered (or failed). */
  subscribed(): Promise<void> {
    return this.firstSubscribe;
  }

  handle(message: string): void {
    const keyEvent = parseApiKeyEvent(message);
    if (keyEvent) {
      this.targets.auth.forget(keyEvent.keyHash);
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof event !== 'object' || event === null) return;
    const { type, model } = event as { type?: unknown; model?: unknown };
    if (typeof type !== 'string' || !/^(model|alias|version)-/.test(type)) return;
    this.targets.metadata.invalidate(typeof model === 'string' ? model : undefined);
  }

  private dropAll(): void {
    this.targets.metadata.invalidate();
    this.targets.auth.forgetAll();
  }
}
