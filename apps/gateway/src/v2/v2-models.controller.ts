import { Controller, Get, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { setRequestModel } from '../http/request-context';
import { ModelMetadataService, type V2ModelMetadata } from '../registry/model-metadata.service';

/** Model metadata and readiness (Open Inference Protocol). */
@Controller('v2/models')
export class V2ModelsController {
  constructor(private readonly metadata: ModelMetadataService) {}

  @Get(':model')
  async model(@Param('model') model: string, @Req() req: FastifyRequest): Promise<V2ModelMetadata> {
    const meta = await this.metadata.v2Metadata(model);
    setRequestModel(req, model);
    return meta;
  }

  @Get(':model/versions/:version')
  async version(
    @Param('model') model: string,
    @Param('version') version: string,
    @Req() req: FastifyRequest,
  ): Promise<V2ModelMetadata> {
    const meta = await this.metadata.v2Metadata(model, version);
    setRequestModel(req, model);
    return meta;
  }

  /**
   * Ready: a published, ready version resolves (a worker loads it on its first request, so any
   * such version can serve). Unknown models and versions are 404.
   */
  @Get(':model/ready')
  async ready(@Param('model') model: string, @Req() req: FastifyRequest) {
    const target = await this.metadata.resolve(model);
    setRequestModel(req, model);
    return { name: model, version: String(target.version), ready: true };
  }

  @Get(':model/versions/:version/ready')
  async versionReady(
    @Param('model') model: string,
    @Param('version') version: string,
    @Req() req: FastifyRequest,
  ) {
    const target = await this.metadata.resolve(model, version);
    setRequestModel(req, model);
    return { name: model, version: String(target.version), ready: true };
  }
}
