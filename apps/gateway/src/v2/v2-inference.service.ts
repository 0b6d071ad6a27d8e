import {
  parseInferRequestBody,
  buildInferResponse,
  type BuiltInferResponse,
} from '@strata/tensors';
import { requestAllowsCache, type CacheStatus } from '../cache/cache-policy';
import type { PredictionCacheService } from '../cache/prediction-cache.service';
import { BadRequestError } from '../http/http-errors';
import type { ModelMetadataService, ResolvedModel } from '../registry/model-metadata.service';
import {
  batchItems,
  countAnswer,
  type InferenceUsage,
  type UsageCaller,
  type UsageTally,
} from '../usage/inference-usage';

/** How the client asked about the prediction cache, besides `parameters.use_cache`. */
export interface V2CacheWish {
  /** `?use_cache=` */
  query?: unknown;
  cacheControl?: string | string[];
}

export interface V2InferAnswer {
  built: BuiltInferResponse;
  cache: CacheStatus;
  cacheItems?: { hits: number; total: number };
}

/**
 * `POST /v2/models/{m}[/versions/{v}]/infer`: the Open Inference Protocol body (JSON, or JSON
 * header + binary tensors) checked against the model's inputs before anything is queued, the
 * prediction cache (then the queue hop on a miss), and the answer in the same protocol (binary
 * outputs when asked). `use_cache=false` (query or request parameter) or `Cache-Control:
 * no-cache|no-store` bypass the cache.
 */
export class V2InferenceService {
  constructor(
    private readonly metadata: ModelMetadataService,
    private readonly predictions: PredictionCacheService,
    private readonly maxBodyBytes: number,
    private readonly usage: InferenceUsage,
  ) {}

  resolve(model: string, ref?: string): Promise<ResolvedModel> {
    return this.metadata.resolve(model, ref);
  }

  /** One usage event per call (ok or error), accounted to `caller`. */
  infer(
    target: ResolvedModel,
    body: unknown,
    headerLength: string | undefined,
    caller: UsageCaller | undefined,
    wish: V2CacheWish = {},
  ): Promise<V2InferAnswer> {
    return this.usage.track(caller, target, {}, (tally) =>
      this.run(target, body, headerLength, tally, wish),
    );
  }

  private async run(
    target: ResolvedModel,
    body: unknown,
    headerLength: string | undefined,
    tally: UsageTally,
    wish: V2CacheWish,
  ): Promise<V2InferAnswer> {
    if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) {
      throw new BadRequestError('the request has no body; send an inference request (JSON)');
    }
    if (!Buffer.isBuffer(body) && typeof body !== 'string') {
      throw new BadRequestError(
        'send the inference request as application/json (or JSON header + binary data with Inference-Header-Content-Length)',
      );
    }
    const request = parseInferRequestBody(body, headerLength, {
      limits: { maxTotalBytes: this.maxBodyBytes },
      model: { inputs: target.inputs, outputs: target.outputs },
    });
    tally.items = batchItems(request.inputs);
    const useCache = requestAllowsCache({
      query: wish.query,
      body: request.parameters?.use_cache,
      cacheControl: wish.cacheControl,
    });
    // Queue capacity is checked on a miss only (InferenceService.infer): hits never need a worker.
    const outcome = await this.predictions.infer(target, request.inputs, {
      useCache,
      ...(request.outputs && { outputs: request.outputs.map((o) => o.name) }),
      ...(request.id !== undefined && { requestId: request.id }),
    });
    countAnswer(tally, outcome);
    const built = buildInferResponse(
      {
        model_name: target.model,
        model_version: String(target.version),
        ...(request.id !== undefined && { id: request.id }),
      },
      outcome.outputs,
      request,
    );
    return {
      built,
      cache: outcome.cache,
      ...(outcome.cacheItems && { cacheItems: outcome.cacheItems }),
    };
  }
}
