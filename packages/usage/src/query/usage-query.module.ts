import { Module } from '@nestjs/common';
import { RedisKeys } from '@strata/cache-keys';
import {
  PRISMA_CLIENT,
  REDIS_CLIENT,
  STRATA_CONFIG,
  type DatabaseClient,
  type ServiceConfig,
  type RedisClient,
} from '@strata/service-kit';
import { RecentInferenceReader } from './recent-inference.reader';
import { UsageQueryService } from './usage-query.service';

/**
 * The read side for the gateway: `UsageQueryService` (needs `DatabaseModule`) and
 * `RecentInferenceReader` (needs `RedisModule`).
 */
@Module({
  providers: [
    {
      provide: UsageQueryService,
      inject: [PRISMA_CLIENT],
      useFactory: (db: DatabaseClient) => new UsageQueryService(db),
    },
    {
      provide: RecentInferenceReader,
      inject: [REDIS_CLIENT, STRATA_CONFIG],
      useFactory: (redis: RedisClient, config: ServiceConfig) =>
        new RecentInferenceReader(redis, new RedisKeys(config.REDIS_KEY_PREFIX)),
    },
  ],
  exports: [UsageQueryService, RecentInferenceReader],
})
export class UsageQueryModule {}
