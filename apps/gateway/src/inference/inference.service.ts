import { randomUUID } from 'node:crypto';
import {
  JobError,
  type JobTensor,
  type LoadModelResult,
  type ModelVersionRef,
  type RedisKeys,
} from '@strata/cache-keys';
import { fromJobTensor, toBlobJobTensor, toJobTensor, type RawTensor } from '@strata/tensors';
import type { GatewaySettings } from '../gateway-settings';
import { GatewayError } from '../http/http-errors';
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
 */
export class InferenceService {
  private readonly now: () => number;

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
    const { queue, blobs, keys, metrics, settings } = this.deps;
    const jobId = randomUUID();
    const timeoutMs = settings.inferTimeoutMs;
    const started = this.now();
    const blobKeys: string[] = [];
    let tensors: JobTensor[];
    try {
      tensors = await Promise.all(
        inputs.map(async (tensor, i) => {
          if (tensor.data.length <= settings.blobThresholdBytes) return toJobTensor(tensor);
          const key = keys.blob(`${jobId}.${i}`);
          blobKeys.push(key);
          // Outlives the wait, so a worker that takes the job at its deadline still finds it.
          await blobs.put(key, tensor.data, timeoutMs + 60_000);
          return toBlobJobTensor(tensor, key);
        }),
      );
    } catch (err) {
      void blobs.delete(blobKeys);
      throw err;
    }

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
          onAbandoned: () => void blobs.delete(blobKeys),
        },
      );
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

  /** An `infer` `load` job: the worker that takes it loads the version. */
  load(target: ModelVersionRef): Promise<LoadModelResult> {
    return this.deps.queue.submit(
      'load',
      { model: target.model, version: target.version },
      { timeoutMs: this.deps.settings.loadTimeoutMs },
    );
  }
}
