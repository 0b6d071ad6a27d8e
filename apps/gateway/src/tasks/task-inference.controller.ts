import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CACHE_STATUS_HEADER } from '../cache/cache-policy';
import { requestState, setRequestModel } from '../http/request-context';
import type { ResolvedModel } from '../registry/model-metadata.service';
import type { UsageCaller } from '../usage/inference-usage';
import { parseTaskRequest, type TaskKind, type TaskRequest } from './task-request';
import {
  TaskInferenceService,
  type ClassificationAnswer,
  type DetectionAnswer,
  type TaskCacheWish,
  type TaskResult,
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
  classification(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ClassificationAnswer> {
    return this.run('classification', body, req, reply, (request, target, caller, wish) =>
      this.tasks.classify(request, target, caller, wish),
    );
  }

  @Post('object_detection')
  @HttpCode(200)
  objectDetection(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DetectionAnswer> {
    return this.run('object_detection', body, req, reply, (request, target, caller, wish) =>
      this.tasks.detect(request, target, caller, wish),
    );
  }

  /** Parse, resolve (labels the request's metrics), answer, and say what the cache did. */
  private async run<A>(
    kind: TaskKind,
    body: unknown,
    req: FastifyRequest,
    reply: FastifyReply,
    answer: (
      request: TaskRequest,
      target: ResolvedModel,
      caller: UsageCaller | undefined,
      wish: TaskCacheWish,
    ) => Promise<TaskResult<A>>,
  ): Promise<A> {
    const request = parseTaskRequest(body, kind);
    const target = await this.tasks.resolve(request);
    setRequestModel(req, target.model);
    const result = await answer(request, target, requestState(req).apiKey, cacheWish(req));
    reply.header(CACHE_STATUS_HEADER, result.cache);
    return result.answer;
  }
}
