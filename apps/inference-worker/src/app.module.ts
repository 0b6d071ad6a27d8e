import { Module } from '@nestjs/common';
import { ModelCacheDirModule, RedisModule } from '@strata/service-kit';
import { InferenceModule } from './inference.module';

/**
 * The inference-worker: consumes `infer` jobs (InferenceModule), reads the disk artifact cache
 * the model-loader of its domain fills (through the loader's answers), Redis for the queue,
 * leases, placement and recent-inference records. No Postgres.
 */
@Module({
  imports: [RedisModule, ModelCacheDirModule.forRoot({ access: 'read' }), InferenceModule],
})
export class AppModule {}
