import { Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CACHE_STATUS_HEADER } from '../cache/cache-policy';
import { requestState, setRequestModel } from '../http/request-context';
import { V2InferenceService } from './v2-inference.service';

const HEADER_LENGTH = 'inference-header-content-length';

/** Open Inference Protocol inference (JSON and the binary tensor data extension). */
@Controller('v2/models')
export class V2InferenceController {
  constructor(private readonly v2: V2InferenceService) {}

  @Post(':model/infer')
  @HttpCode(200)
  infer(
    @Param('model') model: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.handle(model, undefined, req, reply);
  }

  @Post(':model/versions/:version/infer')
  @HttpCode(200)
  inferVersion(
    @Param('model') model: string,
    @Param('version') version: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.handle(model, version, req, reply);
  }

  private async handle(
    model: string,
    version: string | undefined,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const target = await this.v2.resolve(model, version);
    setRequestModel(req, target.model);
    const header = req.headers[HEADER_LENGTH];
    const query = req.query as Record<string, unknown> | undefined;
    const { built, cache, cacheItems } = await this.v2.infer(
      target,
      req.body,
      Array.isArray(header) ? header[0] : header,
      requestState(req).apiKey,
      { query: query?.use_cache, cacheControl: req.headers['cache-control'] },
    );
    reply.header(CACHE_STATUS_HEADER, cache);
    if (cacheItems)
      reply.header(`${CACHE_STATUS_HEADER}-rows`, `${cacheItems.hits}/${cacheItems.total}`);
    if (built.headerLength !== undefined) {
      reply
        .header('content-type', 'application/octet-stream')
        .header(HEADER_LENGTH, String(built.headerLength));
    } else {
      reply.header('content-type', 'application/json');
    }
    await reply.status(200).send(built.body);
  }
}
