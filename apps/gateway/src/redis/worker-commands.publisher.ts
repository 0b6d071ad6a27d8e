import { serializeWorkerCommand, type WorkerCommand } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';

/** Commands for every inference-worker at once (`unload`, `clear`) on the events channel. */
export class WorkerCommandsPublisher {
  constructor(
    private readonly redis: RedisClient,
    private readonly channel: string,
  ) {}

  /** Resolves with the number of subscribers that received it (workers and gateways). */
  publish(command: WorkerCommand): Promise<number> {
    return this.redis.publish(this.channel, serializeWorkerCommand(command));
  }
}
