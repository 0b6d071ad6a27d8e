import { Module } from '@nestjs/common';
import { DatabaseModule, RedisModule } from '@strata/service-kit';
import { GatewayModule } from './gateway.module';

/**
 * The gateway: Redis (the `infer` queue, blobs, placement records, events) and Postgres (API
 * keys, the model registry), with its HTTP API in GatewayModule.
 */
@Module({
  imports: [RedisModule, DatabaseModule, GatewayModule],
})
export class AppModule {}
