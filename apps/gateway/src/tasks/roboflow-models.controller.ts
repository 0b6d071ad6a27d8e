import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { parseModelRef } from '@strata/artifact-layout';
import type { FastifyRequest } from 'fastify';
import { RequireScope } from '../auth/auth.decorators';
import { BadRequestError } from '../http/http-errors';
import { setRequestModel } from '../http/request-context';
import { ModelManagementService } from '../inference/model-management.service';

function modelIdOf(body: unknown) {
  const id =
    typeof body === 'object' && body !== null && !Buffer.isBuffer(body)
      ? (body as Record<string, unknown>).model_id
      : undefined;
  if (typeof id !== 'string' || id.length === 0) {
    throw new BadRequestError('model_id is required ("name", "name/version" or "name/alias")');
  }
  return parseModelRef(id);
}

/** Roboflow-style model management: what is loaded, load one, unload one, unload all. */
@Controller('model')
export class RoboflowModelsController {
  constructor(private readonly models: ModelManagementService) {}

  /** Versions loaded on some worker, with task type, input size and batch size. */
  @Get('registry')
  async registry() {
    return { models: await this.models.loaded() };
  }

  @RequireScope('admin')
  @Post('add')
  @HttpCode(200)
  async add(@Body() body: unknown, @Req() req: FastifyRequest) {
    const ref = modelIdOf(body);
    const result = await this.models.load(
      ref.model,
      ref.kind === 'version' ? ref.version : ref.kind === 'alias' ? ref.alias : undefined,
    );
    setRequestModel(req, result.model);
    return {
      model_id: result.model_id,
      worker: result.worker,
      already_loaded: result.alreadyLoaded,
      load_ms: result.loadMs,
    };
  }

  /** `name` unloads every version; `name/version` or `name/alias` one. */
  @RequireScope('admin')
  @Post('remove')
  @HttpCode(200)
  async remove(@Body() body: unknown) {
    const ref = modelIdOf(body);
    const done = await this.models.unload(
      ref.model,
      ref.kind === 'version' ? ref.version : ref.kind === 'alias' ? ref.alias : undefined,
    );
    return {
      model_id: done.version === undefined ? done.model : `${done.model}/${done.version}`,
      unloaded: true,
    };
  }

  @RequireScope('admin')
  @Post('clear')
  @HttpCode(200)
  async clear() {
    await this.models.clear();
    return { cleared: true };
  }
}
