import { Module } from '@nestjs/common';
import { ModelCacheDirModule, RedisModule } from '@strata/service-kit';

/**
 * The inference-worker: Redis for the `infer` queue and the loader's answers; reads the disk
 * artifact cache the model-loader of its domain fills. No Postgres. The queue consumer arrives in
 * a later issue.
 */
@Module({
  imports: [RedisModule, ModelCacheDirModule.forRoot({ access: 'read' })],
})
export class AppModule {}
