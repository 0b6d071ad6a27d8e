import { randomUUID } from 'node:crypto';
import {
  JobError,
  isInferErrorCode,
  type InferBatchJobResult,
  type JobTensor,
  type LoadModelResult,
  type ModelVersionRef,
  type RedisKeys,
} from '@strata/cache-keys';
import { fromJobTensor, toBlobJobTensor, toJobTensor, type RawTensor } from '@strata/tensors';
import type { GatewaySettings } from '../gateway-settings';
import { GatewayError, GatewayTimeoutError } from '../http/http-errors';
import type { GatewayMetrics } from '../metrics/gateway.metrics';
import type { BlobStore } from './blob-store.adapter';
import type { InferQueue } from './infer-queue.adapter';
import type { QueueDepthGate } from './queue-depth.gate';

/** A computed inference, with the timings of its trip through the queue. */
export interface InferOutcome {
  outputs: RawTensor[];
  /** Compute time reported by the worker (its batch run). */
  computeMs: number;
  /** Time the job waited before a worker took it (the worker's view). */
  queueMs: number;
  /** From adding the job to its answer (the gateway's view). */
  roundTripMs: number;
  worker: string;
  batchSize: number;
  /** Answered without a worker computing it (usage events count it as cached). */
  cached: boolean;
}

export interface InferOptions {
  /** Output names wanted (validated by the caller); all when absent. */
  outputs?: string[];
  requestId?: string;
}

export interface InferenceServiceDeps {
  queue: InferQueue;
  blobs: BlobStore;
  keys: RedisKeys;
  gate: QueueDepthGate;
  metrics: GatewayMetrics;
  settings: Pick<GatewaySettings, 'inferTimeoutMs' | 'loadTimeoutMs' | 'blobThresholdBytes'>;
  now?: () => number;
}

/** Unanswered jobs of one version a gateway keeps in flight before requests gather (see infer). */
const LANE_JOBS = 2;
/** Versions whose batching hint is remembered (a map that is cleared when it grows past this). */
const MAX_HINTS = 10_000;

/** A request that waits in its version's lane to travel with others. */
interface Member {
  readonly target: ModelVersionRef;
  readonly tensors: JobTensor[];
  readonly options: InferOptions;
  readonly started: number;
  readonly deadline: number;
  resolve(outcome: InferOutcome): void;
  reject(err: unknown): void;
}

/** Per version: jobs in flight from this gateway, and the requests gathering for the next. */
interface Lane {
  inFlight: number;
  open: Member[];
}

function outcomeOf(err: unknown): string {
  if (err instanceof JobError) return err.code.toLowerCase();
  if (err instanceof GatewayError && err.status === 504) return 'timeout';
  return 'error';
}

/**
 * The queue hop: inputs (already validated against the model) become an `infer` `run` job —
 * raw little-endian bytes, base64 in the job, or a Redis blob for inputs over
 * INFER_BLOB_THRESHOLD_BYTES — with a deadline INFER_TIMEOUT_MS ahead, and the gateway waits for
 * the answer until then (504 after). Failures keep the worker's code (JobError → 400/404/503/
 * 504/500 in the error filter). The queue depth is checked first (503 with Retry-After).
 *
 * Batching starts here for versions the worker batches (its answers say how many requests it
 * runs together, `batchMax`): per version, up to LANE_JOBS jobs go out as requests come; while
 * that many are unanswered, further requests (inline inputs only) gather and leave together as
 * one `batch` job when one of them is answered or when they reach `batchMax`. The hop — job,
 * events, Redis commands, worker bookkeeping — is then paid once per batch instead of once per
 * request; a lone request never waits. Each request keeps its own outcome; the job's deadline is
 * the earliest of theirs.
 */
export class InferenceService {
  private readonly now: () => number;
  /** `model/version` → the worker's `batchMax` from its latest answer. */
  private readonly batchMax = new Map<string, number>();
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly deps: InferenceServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** 503 when the queue is over INFER_MAX_QUEUE_DEPTH (sampled, not read per request). */
  async checkCapacity(): Promise<void> {
    try {
      await this.deps.gate.check();
    } catch (err) {
      if (err instanceof GatewayError && err.status === 503) {
        this.deps.metrics.rejected.inc({ reason: 'queue_full' });
      }
      throw err;
    }
  }

  async infer(
    target: ModelVersionRef,
    inputs: readonly RawTensor[],
    options: InferOptions = {},
  ): Promise<InferOutcome> {
    await this.checkCapacity();
    const started = this.now();
    const key = laneKey(target);
    const batchMax = this.batchMax.get(key) ?? 1;
    if (batchMax > 1) {
      const threshold = this.deps.settings.blobThresholdBytes;
      const lane = this.lanes.get(key);
      if (inputs.every((t) => t.data.length <= threshold) && lane && lane.inFlight >= LANE_JOBS) {
        return this.gather(lane, key, batchMax, target, inputs, options, started);
      }
    }
    return this.inferAlone(target, inputs, options, started);
  }

  /** One request as one `run` job; counts as a job of its version's lane while in flight. */
  private async inferAlone(
    target: ModelVersionRef,
    inputs: readonly RawTensor[],
    options: InferOptions,
    started: number,
  ): Promise<InferOutcome> {
    const jobId = randomUUID();
    const timeoutMs = this.deps.settings.inferTimeoutMs;
    const key = laneKey(target);
    const lane = this.laneOf(key);
    lane.inFlight++;
    try {
      return await this.runJob(target, inputs, options, started, jobId, timeoutMs);
    } finally {
      this.jobDone(key, lane);
    }
  }

  private async runJob(
    target: ModelVersionRef,
    inputs: readonly RawTensor[],
    options: InferOptions,
    started: number,
    jobId: string,
    timeoutMs: number,
  ): Promise<InferOutcome> {
    const { queue, blobs, keys, metrics, settings } = this.deps;
    const blobKeys: string[] = [];
    const parked: { key: string; data: Buffer; ttlMs: number }[] = [];
    const tensors: JobTensor[] = inputs.map((tensor, i) => {
      if (tensor.data.length <= settings.blobThresholdBytes) return toJobTensor(tensor);
      const key = keys.blob(`${jobId}.${i}`);
      blobKeys.push(key);
      // Outlives the wait, so a worker that takes the job at its deadline still finds it.
      parked.push({ key, data: tensor.data, ttlMs: timeoutMs + 60_000 });
      return toBlobJobTensor(tensor, key);
    });

    try {
      const result = await queue.submit(
        'run',
        {
          model: target.model,
          version: target.version,
          inputs: tensors,
          ...(options.outputs && { outputs: options.outputs }),
          ...(options.requestId !== undefined && { requestId: options.requestId }),
          deadline: started + timeoutMs,
        },
        {
          timeoutMs,
          jobId,
          blobs: parked,
          onAbandoned: () => void blobs.delete(blobKeys),
        },
      );
      this.learn(target, result);
      const roundTripMs = this.now() - started;
      metrics.inferRoundTrip.observe({ model: target.model, outcome: 'ok' }, roundTripMs / 1000);
      metrics.queueWait.observe(
        { model: target.model },
        Math.max(0, roundTripMs - result.computeMs) / 1000,
      );
      return {
        outputs: result.outputs.map((t) => fromJobTensor(t)),
        computeMs: result.computeMs,
        queueMs: result.queueMs,
        roundTripMs,
        worker: result.worker,
        batchSize: result.batchSize,
        // A worker computed it. The prediction cache, when it answers, returns `cached: true`.
        cached: false,
      };
    } catch (err) {
      const outcome = outcomeOf(err);
      if (outcome === 'timeout') metrics.rejected.inc({ reason: 'timeout' });
      metrics.inferRoundTrip.observe(
        { model: target.model, outcome },
        (this.now() - started) / 1000,
      );
      // Not a worker's answer nor a timeout: the job was never queued, nobody else deletes them.
      if (!(err instanceof JobError) && outcome !== 'timeout') void blobs.delete(blobKeys);
      throw err;
    }
  }

  private laneOf(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { inFlight: 0, open: [] };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** A job of the lane was answered (or failed): what gathered meanwhile leaves now. */
  private jobDone(key: string, lane: Lane): void {
    lane.inFlight--;
    if (lane.open.length > 0 && lane.inFlight < LANE_JOBS) {
      this.sendGathered(key, lane);
    } else if (lane.inFlight === 0 && lane.open.length === 0 && this.lanes.get(key) === lane) {
      this.lanes.delete(key);
    }
  }

  private learn(target: ModelVersionRef, result: { batchMax?: number }): void {
    const max = result.batchMax;
    const key = laneKey(target);
    const value = typeof max === 'number' && Number.isSafeInteger(max) && max > 1 ? max : 1;
    if (this.batchMax.get(key) === value) return;
    if (this.batchMax.size >= MAX_HINTS) this.batchMax.clear();
    this.batchMax.set(key, value);
  }

  private gather(
    lane: Lane,
    key: string,
    batchMax: number,
    target: ModelVersionRef,
    inputs: readonly RawTensor[],
    options: InferOptions,
    started: number,
  ): Promise<InferOutcome> {
    return new Promise<InferOutcome>((resolve, reject) => {
      lane.open.push({
        target,
        tensors: inputs.map((t) => toJobTensor(t)),
        options,
        started,
        deadline: started + this.deps.settings.inferTimeoutMs,
        resolve,
        reject,
      });
      if (lane.open.length >= batchMax) this.sendGathered(key, lane);
    });
  }

  private sendGathered(key: string, lane: Lane): void {
    const members = lane.open;
    lane.open = [];
    lane.inFlight++;
    void this.sendBatch(members).finally(() => this.jobDone(key, lane));
  }

  /** Gathered requests of one version as one `batch` job; each member settles on its own. */
  private async sendBatch(members: readonly Member[]): Promise<void> {
    const { queue, metrics } = this.deps;
    const target = members[0].target;
    const deadline = Math.min(...members.map((m) => m.deadline));
    const fail = (err: unknown) => {
      const outcome = outcomeOf(err);
      for (const m of members) {
        if (outcome === 'timeout') metrics.rejected.inc({ reason: 'timeout' });
        metrics.inferRoundTrip.observe(
          { model: target.model, outcome },
          (this.now() - m.started) / 1000,
        );
        m.reject(err);
      }
    };
    const timeoutMs = deadline - this.now();
    if (timeoutMs <= 0) {
      fail(
        new GatewayTimeoutError(
          `no answer from an inference worker within ${this.deps.settings.inferTimeoutMs} ms`,
        ),
      );
      return;
    }
    let result: InferBatchJobResult;
    try {
      result = await queue.submit(
        'batch',
        {
          model: target.model,
          version: target.version,
          requests: members.map((m) => ({
            inputs: m.tensors,
            ...(m.options.outputs && { outputs: m.options.outputs }),
            ...(m.options.requestId !== undefined && { requestId: m.options.requestId }),
            deadline: m.deadline,
          })),
          deadline,
        },
        { timeoutMs },
      );
    } catch (err) {
      fail(err);
      return;
    }
    this.learn(target, result);
    const finished = this.now();
    members.forEach((m, i) => {
      const item = result.results?.[i];
      const roundTripMs = finished - m.started;
      if (!item || 'error' in item) {
        const code = item && isInferErrorCode(item.error.code) ? item.error.code : 'INTERNAL';
        const err = new JobError(code, item ? item.error.message : 'the worker sent no answer');
        metrics.inferRoundTrip.observe(
          { model: target.model, outcome: outcomeOf(err) },
          roundTripMs / 1000,
        );
        m.reject(err);
        return;
      }
      metrics.inferRoundTrip.observe({ model: target.model, outcome: 'ok' }, roundTripMs / 1000);
      metrics.queueWait.observe(
        { model: target.model },
        Math.max(0, roundTripMs - item.computeMs) / 1000,
      );
      m.resolve({
        outputs: item.outputs.map((t) => fromJobTensor(t)),
        computeMs: item.computeMs,
        queueMs: result.queueMs,
        roundTripMs,
        worker: result.worker,
        batchSize: item.batchSize,
        cached: false,
      });
    });
  }

  /** An `infer` `load` job: the worker that takes it loads the version. */
  load(target: ModelVersionRef): Promise<LoadModelResult> {
    return this.deps.queue.submit(
      'load',
      { model: target.model, version: target.version },
      { timeoutMs: this.deps.settings.loadTimeoutMs },
    );
  }
}

function laneKey(target: ModelVersionRef): string {
  return `${target.model}/${target.version}`;
}
