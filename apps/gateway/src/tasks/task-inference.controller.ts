import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CACHE_STATUS_HEADER } from '../cache/cache-policy';
import { requestState, setRequestModel } from '../http/request-context';
import { parseTaskRequest } from './task-request';
import {
  TaskInferenceService,
  type ClassificationAnswer,
  type DetectionAnswer,
  type TaskCacheWish,
} from './task-inference.service';

function cacheWish(req: FastifyRequest): TaskCacheWish {
  const query = req.query as Record<string, unknown> | undefined;
  return { query: query?.use_cache, cacheControl: req.headers['cache-control'] };
}

/**
 * Image task endpoints (Roboflow style): JSON `{model_id, image, ...}` or a multipart form with
 * the image as a file part.
 */
@Controller('infer')
export class TaskInferenceController {
  constructor(private readonly tasks: TaskInferenceService) {}

  @Post('classification')
  @HttpCode(200)
  async classification(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ClassificationAnswer> {
    const request = parseTaskRequest(body, 'classification');
    const target = await this.tasks.resolve(request);
    setRequestModel(req, target.model);
    const result = await this.tasks.classify(
      request,
      target,
      requestState(req).apiKey,
      cacheWish(req),
    );
    reply.header(CACHE_STATUS_HEADER, result.cache);
    return result.answer;
  }

  @Post('object_detection')
  @HttpCode(200)
  async objectDetection(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DetectionAnswer> {
    const request = parseTaskRequest(body, 'object_detection');
    const target = await this.tasks.resolve(request);
    setRequestModel(req, target.model);
    const result = await this.tasks.detect(
      request,
      target,
      requestState(req).apiKey,
      cacheWish(req),
    );
    reply.header(CACHE_STATUS_HEADER, result.cache);
    return result.answer;
  }
}
