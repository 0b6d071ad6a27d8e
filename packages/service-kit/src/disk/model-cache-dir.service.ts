import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { mkdir } from 'node:fs/promises';
import { STRATA_CONFIG, type ServiceConfig } from '../core/service-kit.tokens';
import { ReadinessService } from '../health/readiness.service';
import { checkCacheDir, type CacheDirAccess } from './model-cache-dir.readiness';

export const MODEL_CACHE_DIR_ACCESS = Symbol('MODEL_CACHE_DIR_ACCESS');

/** MODEL_CACHE_DIR of the process, with its `model-cache` readiness check. */
@Injectable()
export class ModelCacheDir implements OnModuleInit {
  constructor(
    @Inject(STRATA_CONFIG) private readonly config: ServiceConfig,
    @Inject(MODEL_CACHE_DIR_ACCESS) readonly access: CacheDirAccess,
    readiness: ReadinessService,
  ) {
    readiness.register({ name: 'model-cache', check: () => checkCacheDir(this.path, access) });
  }

  /** Absolute path (@strata/config resolves it against the working directory). */
  get path(): string {
    return this.config.MODEL_CACHE_DIR;
  }

  async onModuleInit(): Promise<void> {
    // The owner of the cache (model-loader) creates it; readers only report it missing.
    if (this.access === 'read-write') await mkdir(this.path, { recursive: true });
  }
}
