import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { requestState, setRequestModel } from '../http/request-context';
import { parseTaskRequest } from './task-request';
import {
  TaskInferenceService,
  type ClassificationAnswer,
  type DetectionAnswer,
} from './task-inference.service';

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
  ): Promise<ClassificationAnswer> {
    const request = parseTaskRequest(body, 'classification');
    const target = await this.tasks.resolve(request);
    setRequestModel(req, target.model);
    return this.tasks.classify(request, target, requestState(req).apiKey);
  }

  @Post('object_detection')
  @HttpCode(200)
  async objectDetection(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ): Promise<DetectionAnswer> {
    const request = parseTaskRequest(body, 'object_detection');
    const target = await this.tasks.resolve(request);
    setRequestModel(req, target.model);
    return this.tasks.detect(request, target, requestState(req).apiKey);
  }
}
