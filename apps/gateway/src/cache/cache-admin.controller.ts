import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { validateModelName, validateVersion } from '@strata/artifact-layout';
import { PredictionCacheAdmin } from '@strata/model-registry';
import { RequireScope } from '../auth/auth.decorators';

/**
 * `strata cache invalidate` over HTTP: bumps the cache generation of a version (or of every
 * version of a model) so none of its cached predictions is served again.
 */
@RequireScope('admin')
@Controller('admin/models')
export class CacheAdminController {
  constructor(private readonly cache: PredictionCacheAdmin) {}

  @Post(':model/cache/invalidate')
  @HttpCode(200)
  invalidateModel(@Param('model') model: string) {
    return this.cache.invalidate(validateModelName(model));
  }

  @Post(':model/versions/:version/cache/invalidate')
  @HttpCode(200)
  invalidateVersion(@Param('model') model: string, @Param('version') version: string) {
    return this.cache.invalidate(validateModelName(model), validateVersion(version));
  }
}
