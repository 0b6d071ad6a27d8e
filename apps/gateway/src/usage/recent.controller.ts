import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { KeySegmentError } from '@strata/cache-keys';
import { RECENT_MAX, RecentInferenceReader, type RecentInferences } from '@strata/usage';
import type { FastifyRequest } from 'fastify';
import { BadRequestError, NotFoundHttpError } from '../http/http-errors';
import { setRequestModel } from '../http/request-context';
import { ModelMetadataService } from '../registry/model-metadata.service';

const DEFAULT_N = 20;

function parseN(n: string | undefined): number {
  if (n === undefined) return DEFAULT_N;
  const value = /^[0-9]{1,4}$/.test(n) ? Number(n) : NaN;
  if (!(value >= 1 && value <= RECENT_MAX)) {
    throw new BadRequestError(`n must be an integer 1–${RECENT_MAX}`);
  }
  return value;
}

/**
 * `GET /v1/models/{m}/recent?n=20` (infer): the last n inferences and the last n errors of a
 * model across the inference-workers, newest first, from the records the workers keep in Redis
 * (they live 2 × METRICS_INTERVAL).
 */
@Controller('v1/models')
export class RecentController {
  constructor(
    private readonly metadata: ModelMetadataService,
    private readonly recent: RecentInferenceReader,
  ) {}

  @Get(':model/recent')
  async list(
    @Param('model') model: string,
    @Query('n') n: unknown,
    @Req() req: FastifyRequest,
  ): Promise<RecentInferences> {
    if (n !== undefined && typeof n !== 'string') throw new BadRequestError('n must be given once');
    const limit = parseN(n);
    // An invalid name is a 400 (InvalidNameError), an unknown model a 404.
    if (!(await this.metadata.getModel(model))) {
      throw new NotFoundHttpError(`Unknown model "${model}"`);
    }
    setRequestModel(req, model);
    try {
      return await this.recent.recent(model, limit);
    } catch (err) {
      if (err instanceof KeySegmentError) throw new BadRequestError(err.message);
      throw err;
    }
  }
}
