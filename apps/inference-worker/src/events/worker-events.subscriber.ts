import { parseWorkerCommand, type RedisKeys, type WorkerCommand } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';
import type { Logger } from 'pino';
import { messageOf } from '../inference/infer-errors';
import type { SessionPool } from '../models/session-pool.service';

/**
 * Listens on the events channel for commands meant for every worker (`unload`, `clear`; see
 * @strata/cache-keys events.ts). Other messages on the channel (registry invalidations) are
 * ignored. The subscriber connection resubscribes by itself after a reconnect.
 */
export class WorkerEventsSubscriber {
  private readonly channel: string;
  private handling: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly subscriber: RedisClient,
    keys: RedisKeys,
    private readonly pool: SessionPool,
    private readonly logger: Logger,
  ) {
    this.channel = keys.eventsChannel();
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const command = parseWorkerCommand(message);
      if (!command) return;
      // In arrival order: `clear` then `unload` must not overtake each other.
      this.handling = this.handling.then(() => this.apply(command));
    });
    await this.subscriber.subscribe(this.channel);
  }

  async apply(command: WorkerCommand): Promise<void> {
    try {
      const count =
        command.type === 'clear'
          ? await this.pool.clear()
          : await this.pool.unload(command.model, command.version);
      this.logger.info(
        { command, unloaded: count },
        `${command.type}: ${count} model version(s) unloaded`,
      );
    } catch (err) {
      this.logger.warn({ err, command }, `${command.type} failed: ${messageOf(err)}`);
    }
  }

  /** Resolves when the commands received so far are applied. */
  idle(): Promise<unknown> {
    return this.handling;
  }
}
