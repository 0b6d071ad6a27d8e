import { Module } from '@nestjs/common';
import { DatabaseModule, RedisModule } from '@strata/service-kit';

/**
 * The telemetry-sender: Redis for the `usage` queue, Postgres for the usage outbox. The queue
 * consumer and the sender loop arrive in later issues.
 */
@Module({
  imports: [RedisModule, DatabaseModule],
})
export class AppModule {}
