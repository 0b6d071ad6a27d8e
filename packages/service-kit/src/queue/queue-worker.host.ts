import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { bullPrefix } from '@strata/cache-keys';
import { Worker, type Job, type WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';
import { STRATA_CONFIG, STRATA_LOGGER, type ServiceConfig } from '../core/service-kit.tokens';
import { ServiceLifecycle } from '../core/service-lifecycle.service';
import { endDisconnectedWorkerClients } from './end-disconnected-clients';
import { RedisConnectionFactory } from '../redis/redis-connection.factory';

export interface QueueConsumerOptions {
  /** Queue name from @strata/cache-keys (`QUEUE.usage`, `modelLoadQueue(domain)`). */
  readonly queue: string;
  /** `createDispatcher(kind, handlers)`: it throws on a missing handler, so the service refuses to start. */
  readonly processor: (job: Job) => Promise<unknown>;
  /** Jobs processed at once by this process (default 1). */
  readonly concurrency?: number;
  /** Further BullMQ options; connection, prefix and autorun are the host's. */
  readonly options?: Omit<WorkerOptions, 'connection' | 'prefix' | 'autorun' | 'concurrency'>;
}

/**
 * Runs the BullMQ workers of the process. Workers start once the application has bootstrapped
 * and are closed first on shutdown: `close()` stops taking jobs and waits for active ones (the
 * bootstrap's SHUTDOWN_TIMEOUT bounds the wait).
 */
@Injectable()
export class QueueWorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly workers: Worker[] = [];
  private started = false;
  private closing?: Promise<void>;

  constructor(
    private readonly connections: RedisConnectionFactory,
    @Inject(STRATA_CONFIG) private readonly config: ServiceConfig,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
    lifecycle: ServiceLifecycle,
  ) {
    lifecycle.onDrain('queue-workers', () => this.close());
  }

  consume(consumer: QueueConsumerOptions): Worker {
    if (this.closing) throw new Error(`cannot consume ${consumer.queue}: shutting down`);
    const connection = this.connections.create('worker', `worker:${consumer.queue}`);
    const worker = new Worker(consumer.queue, consumer.processor, {
      ...consumer.options,
      connection,
      prefix: bullPrefix(this.config.REDIS_KEY_PREFIX),
      concurrency: consumer.concurrency ?? 1,
      autorun: false,
    });
    const log = this.logger.child({ queue: consumer.queue });
    worker.on('error', (err) =>
      log.error({ err }, `worker error on ${consumer.queue}: ${err.message}`),
    );
    worker.on('failed', (job, err) =>
      log.warn(
        { err, jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade },
        `job ${job?.name ?? '?'} ${job?.id ?? '?'} failed: ${err.message}`,
      ),
    );
    this.workers.push(worker);
    if (this.started) this.run(worker);
    return worker;
  }

  /** Workers of this host, e.g. for metrics. */
  list(): readonly Worker[] {
    return this.workers;
  }

  onApplicationBootstrap(): void {
    this.started = true;
    for (const w of this.workers) this.run(w);
  }

  /** Stops taking jobs and resolves when every active job has finished. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      const closed = Promise.all(this.workers.map((w) => w.close())).then(() => undefined);
      // With Redis down, close() alone would wait out SHUTDOWN_TIMEOUT (see the helper).
      this.closing = endDisconnectedWorkerClients(this.workers).then(() => closed);
    }
    return this.closing;
  }

  onModuleDestroy(): Promise<void> {
    return this.close();
  }

  private run(worker: Worker): void {
    this.logger.info(
      { queue: worker.name, concurrency: worker.concurrency },
      `consuming ${worker.name}`,
    );
    worker.run().catch((err: Error) => {
      this.logger.error(
        { err, queue: worker.name },
        `worker ${worker.name} stopped: ${err.message}`,
      );
    });
  }
}
