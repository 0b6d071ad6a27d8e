import { Module } from '@nestjs/common';
import { DatabaseModule, ModelCacheDirModule, RedisModule } from '@strata/service-kit';

/**
 * The model-loader: owns the disk artifact cache of its domain (created on boot), Redis for its
 * `model-load:{domain}` queue, Postgres for version metadata. The queue consumer arrives in a
 * later issue.
 */
@Module({
  imports: [RedisModule, DatabaseModule, ModelCacheDirModule.forRoot({ access: 'read-write' })],
})
export class AppModule {}
