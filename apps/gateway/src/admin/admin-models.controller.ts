import { Body, Controller, Delete, Get, Param, Put, Query } from '@nestjs/common';
import { validateVersion } from '@strata/artifact-layout';
import {
  LATEST_ALIAS,
  ModelAdminService,
  type ModelRecord,
  type VersionRecord,
} from '@strata/model-registry';
import { RequireScope } from '../auth/auth.decorators';
import { BadRequestError, NotFoundHttpError } from '../http/http-errors';
import { ModelMetadataService } from '../registry/model-metadata.service';

function versionJson(v: VersionRecord) {
  return {
    version: v.version,
    status: v.deletedAt ? 'deleted' : v.status,
    size_bytes: v.sizeBytes,
    manifest_digest: v.manifestDigest,
    storage_prefix: v.storagePrefix,
    origin_url: v.originUrl,
    task_type: v.metadata.taskType,
    inputs: v.metadata.inputs,
    outputs: v.metadata.outputs,
    aliases: v.aliases,
    created_at: v.createdAt.toISOString(),
    deleted_at: v.deletedAt?.toISOString() ?? null,
  };
}

function modelJson(m: ModelRecord) {
  return {
    name: m.name,
    workspace: m.workspace,
    task_type: m.taskType,
    created_at: m.createdAt.toISOString(),
    latest: m.aliases.find((a) => a.alias === LATEST_ALIAS)?.version ?? null,
    aliases: Object.fromEntries(m.aliases.map((a) => [a.alias, a.version])),
    versions: m.versions.map(versionJson),
  };
}

const yes = (v: string | undefined) => v === 'true' || v === '1';

/** Models, versions and aliases (through the registry's ModelAdminService). */
@RequireScope('admin')
@Controller('admin/models')
export class AdminModelsController {
  constructor(
    private readonly admin: ModelAdminService,
    private readonly metadata: ModelMetadataService,
  ) {}

  @Get()
  async list(@Query('workspace') workspace?: string) {
    const models = await this.metadata.listModels();
    return {
      models: models.filter((m) => !workspace || m.workspace === workspace).map(modelJson),
    };
  }

  @Get(':model')
  async show(@Param('model') model: string, @Query('all') all?: string) {
    const found = await this.metadata.findModel(model, { includeDeleted: yes(all) });
    if (!found) throw new NotFoundHttpError(`Unknown model "${model}"`);
    return modelJson(found);
  }

  @Put(':model/aliases/:alias')
  async setAlias(
    @Param('model') model: string,
    @Param('alias') alias: string,
    @Body() body: { version?: unknown } | undefined,
  ) {
    if (typeof body !== 'object' || body === null || body.version === undefined) {
      throw new BadRequestError('the body must be {"version": N}');
    }
    const move = await this.admin.setAlias(model, alias, validateVersion(body.version));
    this.metadata.invalidate(model);
    return { model, alias: move.alias, version: move.version, previous: move.previous };
  }

  @Delete(':model/aliases/:alias')
  async deleteAlias(@Param('model') model: string, @Param('alias') alias: string) {
    const result = await this.admin.deleteAlias(model, alias);
    this.metadata.invalidate(model);
    return { model, alias: result.alias, previous: result.previous };
  }

  /** Deletes the whole model; `?force=true` also when aliases other than latest exist. */
  @Delete(':model')
  async deleteModel(@Param('model') model: string, @Query('force') force?: string) {
    const result = await this.admin.deleteModel(model, { force: yes(force) });
    this.metadata.invalidate(model);
    return {
      model: result.model,
      versions: result.versions,
      aliases: result.aliases,
      storage: result.storage,
    };
  }

  @Delete(':model/versions/:version')
  async deleteVersion(
    @Param('model') model: string,
    @Param('version') version: string,
    @Query('force') force?: string,
  ) {
    const result = await this.admin.deleteVersion(model, validateVersion(version), {
      force: yes(force),
    });
    this.metadata.invalidate(model);
    return {
      model,
      version: result.version.version,
      removed_aliases: result.removedAliases,
      latest: result.latest,
      storage: result.storage,
    };
  }
}
