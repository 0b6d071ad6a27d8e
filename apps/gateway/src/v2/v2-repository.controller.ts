import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RequireScope } from '../auth/auth.decorators';
import { BadRequestError } from '../http/http-errors';
import { setRequestModel } from '../http/request-context';
import { ModelManagementService } from '../inference/model-management.service';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** A version from `{"parameters": {"version": "3"}}` (an alias works too); undefined = latest. */
function versionParameter(body: unknown): string | undefined {
  if (body === undefined || (Buffer.isBuffer(body) && body.length === 0)) return undefined;
  if (!isObject(body)) throw new BadRequestError('the body must be a JSON object');
  const params = body.parameters;
  if (params === undefined) return undefined;
  if (!isObject(params)) throw new BadRequestError('parameters must be an object');
  const v = params.version;
  if (v === undefined) return undefined;
  if (typeof v === 'number' || typeof v === 'string') return String(v);
  throw new BadRequestError('parameters.version must be a version number or an alias');
}

/** The model repository extension: list, load (on a worker), unload (on every worker). */
@Controller('v2/repository')
export class V2RepositoryController {
  constructor(private readonly models: ModelManagementService) {}

  @Post('index')
  @HttpCode(200)
  index(@Body() body: unknown) {
    const readyOnly = isObject(body) && body.ready === true;
    return this.models.repositoryIndex(readyOnly);
  }

  @RequireScope('admin')
  @Post('models/:model/load')
  @HttpCode(200)
  async load(@Param('model') model: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const result = await this.models.load(model, versionParameter(body));
    setRequestModel(req, result.model);
    return {};
  }

  @RequireScope('admin')
  @Post('models/:model/unload')
  @HttpCode(200)
  async unload(@Param('model') model: string, @Body() body: unknown) {
    await this.models.unload(model, versionParameter(body));
    return {};
  }
}
