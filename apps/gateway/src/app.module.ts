import { Module } from '@nestjs/common';
import { DatabaseModule, RedisModule } from '@strata/service-kit';

/**
 * The gateway: Redis (caches, producers) and Postgres (keys, models, workflows). Its HTTP API,
 * producers and caches arrive as feature modules in later issues.
 */
@Module({
  imports: [RedisModule, DatabaseModule],
})
export class AppModule {}
