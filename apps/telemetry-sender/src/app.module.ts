import { Module } from '@nestjs/common';
import { DatabaseModule, RedisModule } from '@strata/service-kit';
import { UsagePipelineModule } from './usage-pipeline.module';

/**
 * The telemetry-sender: consumes the `usage` queue (Redis), aggregates into the Postgres outbox
 * exactly once, and delivers the outbox to TELEMETRY_SINK_URL.
 */
@Module({
  imports: [RedisModule, DatabaseModule, UsagePipelineModule],
})
export class AppModule {}
