import {
  parseInferRequestBody,
  buildInferResponse,
  type BuiltInferResponse,
} from '@strata/tensors';
import { BadRequestError } from '../http/http-errors';
import type { InferenceService } from '../inference/inference.service';
import type { ModelMetadataService, ResolvedModel } from '../registry/model-metadata.service';
import {
  batchItems,
  countAnswer,
  type InferenceUsage,
  type UsageCaller,
  type UsageTally,
} from '../usage/inference-usage';

/**
 * `POST /v2/models/{m}[/versions/{v}]/infer`: the Open Inference Protocol body (JSON, or JSON
 * header + binary tensors) checked against the model's inputs before anything is queued, the
 * queue hop, and the answer in the same protocol (binary outputs when asked).
 */
export class V2InferenceService {
  constructor(
    private readonly metadata: ModelMetadataService,
    private readonly inference: InferenceService,
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
  ): Promise<BuiltInferResponse> {
    return this.usage.track(caller, target, {}, (tally) =>
      this.run(target, body, headerLength, tally),
    );
  }

  private async run(
    target: ResolvedModel,
    body: unknown,
    headerLength: string | undefined,
    tally: UsageTally,
  ): Promise<BuiltInferResponse> {
    if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) {
      throw new BadRequestError('the request has no body; send an inference request (JSON)');
    }
    if (!Buffer.isBuffer(body) && typeof body !== 'string') {
      throw new BadRequestError(
        'send the inference request as application/json (or JSON header + binary data with Inference-Header-Content-Length)',
      );
    }
    await this.inference.checkCapacity();
    const request = parseInferRequestBody(body, headerLength, {
      limits: { maxTotalBytes: this.maxBodyBytes },
      model: { inputs: target.inputs, outputs: target.outputs },
    });
    tally.items = batchItems(request.inputs);
    const outcome = await this.inference.infer(target, request.inputs, {
      ...(request.outputs && { outputs: request.outputs.map((o) => o.name) }),
      ...(request.id !== undefined && { requestId: request.id }),
    });
    countAnswer(tally, outcome);
    return buildInferResponse(
      {
        model_name: target.model,
        model_version: String(target.version),
        ...(request.id !== undefined && { id: request.id }),
      },
      outcome.outputs,
      request,
    );
  }
}
