import { serializeWorkerCommand, type WorkerCommand } from '@strata/cache-keys';
import type { Redis } from 'ioredis';

/** Commands for every inference-worker at once (`unload`, `clear`) on the events channel. */
export class WorkerCommandsPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
  ) {}

  /** Resolves with the number of subscribers that received it (workers and gateways). */
  publish(command: WorkerCommand): Promise<number> {
    return this.redis.publish(this.channel, serializeWorkerCommand(command));
  }
}
