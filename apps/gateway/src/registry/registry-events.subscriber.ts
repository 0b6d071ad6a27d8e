import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ModelMetadataService } from './model-metadata.service';

/**
 * Listens on the events channel for the registry's invalidation events (`model-published`,
 * `alias-moved`, `alias-removed`, `version-deleted`, `model-deleted`) and drops the gateway's
 * in-process metadata of the model they name. Other messages (worker commands) are ignored.
 * While Redis is away nothing arrives: the metadata TTL bounds how stale a copy can get.
 */
export class RegistryEventsSubscriber {
  constructor(
    private readonly subscriber: Redis,
    private readonly channel: string,
    private readonly metadata: ModelMetadataService,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      this.handle(message);
    });
    // Not awaited at boot: with Redis down the gateway still starts (and resubscribes later).
    this.subscriber.subscribe(this.channel).catch((err: unknown) => {
      this.logger.warn(
        { err },
        'registry events: subscribe failed; metadata falls back to its TTL',
      );
    });
  }

  handle(message: string): void {
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof event !== 'object' || event === null) return;
    const { type, model } = event as { type?: unknown; model?: unknown };
    if (typeof type !== 'string' || !/^(model|alias|version)-/.test(type)) return;
    this.metadata.invalidate(typeof model === 'string' ? model : undefined);
  }
}
