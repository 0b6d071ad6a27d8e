import { cacheControlBypasses, parseUseCache, type CacheStatus } from '../cache/cache-policy';
import type { PredictionCacheService } from '../cache/prediction-cache.service';
import { BadRequestError } from '../http/http-errors';
import type { InferenceService } from '../inference/inference.service';
import type { ArtifactFilesService, VersionArtifacts } from '../registry/artifact-files.service';
import type { ModelMetadataService, ResolvedModel } from '../registry/model-metadata.service';
import {
  countAnswer,
  type InferenceUsage,
  type UsageCaller,
  type UsageTally,
} from '../usage/inference-usage';
import { classify, type ClassPrediction } from './classification.postprocess';
import {
  decodeYolo,
  DetectionDecodeError,
  nms,
  toOriginal,
  toPredictions,
  type DetectionPrediction,
} from './detection.postprocess';
import type { ImagePreprocessService, PreparedImage } from './image-preprocess.service';
import type { ImageUrlFetcher } from './image-url.fetcher';
import { readPostprocessing, resolvePreprocessing } from './preprocess-config';
import { floatValues } from './tensor-values';
import type { TaskKind, TaskRequest } from './task-request';

export const TASK_DEFAULTS = {
  classification: { confidence: 0, topK: 5 },
  object_detection: { confidence: 0.4, iouThreshold: 0.3, maxDetections: 300 },
} as const;

export interface TaskTimings {
  decode_ms: number;
  preprocess_ms: number;
  queue_ms: number;
  inference_ms: number;
  postprocess_ms: number;
  total_ms: number;
}

interface TaskAnswerBase {
  model_id: string;
  model: string;
  version: number;
  image: { width: number; height: number };
  /** Seconds, Roboflow-style. */
  time: number;
  timings: TaskTimings;
}

export interface ClassificationAnswer extends TaskAnswerBase {
  task: 'classification';
  predictions: ClassPrediction[];
  top: string;
  confidence: number;
}

export interface DetectionAnswer extends TaskAnswerBase {
  task: 'object_detection';
  predictions: DetectionPrediction[];
}

const TASK_TYPES: Record<TaskKind, RegExp> = {
  classification: /classif/,
  object_detection: /detect/,
};

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** An answer and what the prediction cache did for it (sent as `x-strata-cache`). */
export interface TaskResult<A> {
  answer: A;
  cache: CacheStatus;
}

/** How the request asked about the cache outside its body. */
export interface TaskCacheWish {
  /** `?use_cache=` */
  query?: unknown;
  cacheControl?: string | string[];
}

interface Computed {
  cache: CacheStatus;
  target: ResolvedModel;
  artifacts: VersionArtifacts;
  prepared: PreparedImage;
  output: import('@strata/tensors').RawTensor;
  post: ReturnType<typeof readPostprocessing>;
  timings: Omit<TaskTimings, 'postprocess_ms' | 'total_ms'>;
  started: number;
}

/**
 * The task endpoints: an image (base64, upload, or an allowed URL) through the version's
 * environment.json preprocessing, the same queue hop as /v2 inference, and classification or
 * YOLO detection postprocessing with class_names.txt.
 */
export class TaskInferenceService {
  constructor(
    private readonly metadata: ModelMetadataService,
    private readonly artifacts: ArtifactFilesService,
    private readonly images: ImagePreprocessService,
    private readonly fetcher: ImageUrlFetcher,
    private readonly inference: InferenceService,
    private readonly predictions: PredictionCacheService,
    private readonly usage: InferenceUsage,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async resolve(request: TaskRequest): Promise<ResolvedModel> {
    return this.metadata.resolve(request.model, request.ref);
  }

  /** One usage event per call once the model resolved (ok or error), accounted to `caller`. */
  async classify(
    request: TaskRequest,
    target?: ResolvedModel,
    caller?: UsageCaller,
    wish: TaskCacheWish = {},
  ): Promise<TaskResult<ClassificationAnswer>> {
    const resolved = target ?? (await this.resolve(request));
    return this.usage.track(caller, resolved, { items: 1 }, (tally) =>
      this.runClassification(request, resolved, tally, wish),
    );
  }

  /** One usage event per call once the model resolved (ok or error), accounted to `caller`. */
  async detect(
    request: TaskRequest,
    target?: ResolvedModel,
    caller?: UsageCaller,
    wish: TaskCacheWish = {},
  ): Promise<TaskResult<DetectionAnswer>> {
    const resolved = target ?? (await this.resolve(request));
    return this.usage.track(caller, resolved, { items: 1 }, (tally) =>
      this.runDetection(request, resolved, tally, wish),
    );
  }

  private async runClassification(
    request: TaskRequest,
    target: ResolvedModel,
    tally: UsageTally,
    wish: TaskCacheWish,
  ): Promise<TaskResult<ClassificationAnswer>> {
    const c = await this.compute(request, 'classification', target, tally, wish);
    const t0 = this.now();
    const scores = floatValues(c.output);
    const n = c.output.shape[c.output.shape.length - 1] ?? scores.length;
    const result = classify(scores.subarray(0, n), {
      classNames: c.artifacts.classNames,
      softmax: c.post.softmax,
      topK: request.topK ?? TASK_DEFAULTS.classification.topK,
      confidence: request.confidence ?? TASK_DEFAULTS.classification.confidence,
    });
    return {
      answer: { ...this.base(request, c, t0), task: 'classification', ...result },
      cache: c.cache,
    };
  }

  private async runDetection(
    request: TaskRequest,
    target: ResolvedModel,
    tally: UsageTally,
    wish: TaskCacheWish,
  ): Promise<TaskResult<DetectionAnswer>> {
    const c = await this.compute(request, 'object_detection', target, tally, wish);
    const t0 = this.now();
    const d = TASK_DEFAULTS.object_detection;
    let boxes;
    try {
      boxes = decodeYolo(floatValues(c.output), c.output.shape, {
        format: c.post.format,
        numClasses: c.artifacts.classNames?.length,
        confidence: request.confidence ?? d.confidence,
        boxes: c.post.boxes,
        inputSize: {
          width: c.prepared.tensor.shape[3],
          height: c.prepared.tensor.shape[2],
        },
      });
    } catch (err) {
      if (err instanceof DetectionDecodeError) {
        throw new BadRequestError(`model ${c.target.model}/${c.target.version}: ${err.message}`);
      }
      throw err;
    }
    const kept = nms(
      boxes,
      request.iouThreshold ?? d.iouThreshold,
      request.maxDetections ?? d.maxDetections,
    ).map((b) => toOriginal(b, c.prepared.transform, c.prepared.original));
    return {
      answer: {
        ...this.base(request, c, t0),
        task: 'object_detection',
        predictions: toPredictions(kept, c.artifacts.classNames),
      },
      cache: c.cache,
    };
  }

  private base(request: TaskRequest, c: Computed, postStart: number): TaskAnswerBase {
    const end = this.now();
    const total = end - c.started;
    return {
      model_id: request.modelId,
      model: c.target.model,
      version: c.target.version,
      image: c.prepared.original,
      time: round(total) / 1000,
      timings: { ...c.timings, postprocess_ms: round(end - postStart), total_ms: round(total) },
    };
  }

  private async compute(
    request: TaskRequest,
    kind: TaskKind,
    target: ResolvedModel,
    tally: UsageTally,
    wish: TaskCacheWish,
  ): Promise<Computed> {
    const started = this.now();
    const label = `${target.model}/${target.version}`;
    if (
      target.taskType &&
      target.taskType !== 'unknown' &&
      !TASK_TYPES[kind].test(target.taskType)
    ) {
      throw new BadRequestError(
        `model ${label} is a ${target.taskType} model, not a ${kind.replace('_', ' ')} model`,
      );
    }
    const artifacts = await this.artifacts.get(target);
    let pre;
    let post;
    try {
      pre = resolvePreprocessing(artifacts.environment, target.inputs);
      post = readPostprocessing(artifacts.environment, target.outputs);
    } catch (err) {
      if (err instanceof BadRequestError) {
        throw new BadRequestError(`model ${label} cannot take images: ${err.message}`);
      }
      throw err;
    }
    if (target.inputs.length !== 1) {
      throw new BadRequestError(
        `model ${label} has ${target.inputs.length} inputs; the task endpoints feed one image input`,
      );
    }
    // Decoding and checking everything the client sent comes before capacity and the queue.
    await this.inference.checkCapacity();
    const bytes =
      request.image.kind === 'bytes'
        ? request.image.data
        : await this.fetcher.fetch(request.image.url);
    const t1 = this.now();
    const prepared = await this.images.prepare(bytes, pre);
    const t2 = this.now();
    // The cache keys on the preprocessed tensor: postprocessing options (confidence, top_k, NMS)
    // apply after it, so requests differing only there share one entry.
    const useCache =
      request.useCache !== false &&
      parseUseCache(wish.query, 'the use_cache query parameter') !== false &&
      !cacheControlBypasses(wish.cacheControl);
    const outcome = await this.predictions.infer(target, [prepared.tensor], {
      useCache,
      outputs: [post.output],
    });
    countAnswer(tally, outcome);
    const output = outcome.outputs.find((o) => o.name === post.output);
    if (!output) throw new BadRequestError(`model ${label} returned no output "${post.output}"`);
    return {
      cache: outcome.cache,
      target,
      artifacts,
      prepared,
      output,
      post,
      started,
      timings: {
        decode_ms: round(t1 - started),
        preprocess_ms: round(t2 - t1),
        // A cache answer waited in no queue: its round trip was the Redis lookup.
        queue_ms: outcome.cached ? 0 : round(Math.max(0, outcome.roundTripMs - outcome.computeMs)),
        inference_ms: round(outcome.computeMs),
      },
    };
  }
}
