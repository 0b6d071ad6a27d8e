import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { createDispatcher, modelLoadQueue } from '@strata/cache-keys';
import { encodeLoaderFailure } from '@strata/loader-client';
import { QueueWorkerHost, STRATA_LOGGER } from '@strata/service-kit';
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { LOADER_SETTINGS, type LoaderSettings } from '../loader.settings';
import { ArtifactCacheService } from './artifact-cache.service';
import { toModelLoaderError } from './loader-errors';

/**
 * Consumes `model-load:{domain}`: `ensure`, `evict`, `clear`. Failures carry their code in the
 * message (`encodeLoaderFailure`) so @strata/loader-client can rebuild the typed error from
 * BullMQ's string `failedReason`.
 */
@Injectable()
export class ModelLoadProcessor implements OnModuleInit {
  constructor(
    private readonly host: QueueWorkerHost,
    private readonly cache: ArtifactCacheService,
    @Inject(LOADER_SETTINGS) private readonly settings: LoaderSettings,
    @Inject(STRATA_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.host.consume({
      queue: modelLoadQueue(this.settings.domain),
      concurrency: this.settings.concurrency,
      processor: createDispatcher('model-load', {
        ensure: (job) => this.run(job.name, () => this.cache.ensure(job.data)),
        evict: (job) => this.run(job.name, () => this.cache.evict(job.data)),
        clear: (job) => this.run(job.name, () => this.cache.clear(job.data ?? {})),
      }),
    });
  }

  private async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const failure = toModelLoaderError(err);
      if (failure.code === 'INTERNAL')
        this.logger.error({ err }, `${name} failed: ${failure.message}`);
      const text = encodeLoaderFailure(failure.code, failure.message);
      // Retrying cannot fix a bad name or an unknown version.
      if (failure.code === 'INVALID_NAME' || failure.code === 'NOT_FOUND')
        throw new UnrecoverableError(text);
      throw new Error(text);
    }
  }
}
