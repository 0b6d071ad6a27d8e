import { Module } from '@nestjs/common';
import { DatabaseModule, ModelCacheDirModule, RedisModule } from '@strata/service-kit';
import { ArtifactsModule } from './artifacts/artifacts.module';

/**
 * The model-loader: owns the disk artifact cache of its domain (created on boot), consumes its
 * `model-load:{domain}` queue (Redis), reads version metadata from the registry (Postgres) and
 * artifacts from S3 or a version's HTTP origin.
 */
@Module({
  imports: [
    RedisModule,
    DatabaseModule,
    ModelCacheDirModule.forRoot({ access: 'read-write' }),
    ArtifactsModule,
  ],
})
export class AppModule {}
