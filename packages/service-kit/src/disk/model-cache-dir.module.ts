import { Module, type DynamicModule } from '@nestjs/common';
import type { CacheDirAccess } from './model-cache-dir.readiness';
import { MODEL_CACHE_DIR_ACCESS, ModelCacheDir } from './model-cache-dir.service';

/** The disk artifact cache: `read-write` creates it on boot (model-loader), `read` only checks it. */
@Module({})
export class ModelCacheDirModule {
  static forRoot(options: { access: CacheDirAccess }): DynamicModule {
    return {
      module: ModelCacheDirModule,
      providers: [{ provide: MODEL_CACHE_DIR_ACCESS, useValue: options.access }, ModelCacheDir],
      exports: [ModelCacheDir],
    };
  }
}
