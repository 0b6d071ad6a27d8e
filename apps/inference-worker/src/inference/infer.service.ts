import {
  JobError,
  type InferBatchItemResult,
  type InferBatchJobData,
  type InferBatchJobResult,
  type InferBatchRequest,
  type InferJobData,
  type InferJobResult,
  type JobTensor,
  type LoadModelResult,
  type ModelVersionRef,
  type RedisKeys,
} from '@strata/cache-keys';
import {
  fromJobTensor,
  toJobTensor,
  validateInputs,
  validateRequestedOutputs,
  type RawTensor,
} from '@strata/tensors';
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { JobOutcome, WorkerMetrics } from '../metrics/worker.metrics';
import type { ModelLease, SessionPool } from '../models/session-pool.service';
import type { BlobRepository } from '../redis/blob.repository';
import type { RecentInferenceRepository } from '../redis/recent-inference.repository';
import { messageOf, toJobError } from './infer-errors';

/** What the service needs of a BullMQ job (so tests can hand it plain objects). */
export interface InferJobContext<D> {
  readonly id?: string;
  readonly data: D;
  /** When the job was added (Unix ms). */
  readonly timestamp: number;
  /** Whether a failure now is final (no attempt left): then its blobs are deleted. */
  readonly lastAttempt: boolean;
}

export interface InferServiceDeps {
  readonly pool: SessionPool;
  readonly blobs: BlobRepository;
  readonly recent: RecentInferenceRepository;
  readonly metrics: WorkerMetrics;
  readonly keys: RedisKeys;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly workerId: string;
}

function outcomeOf(err: JobError): JobOutcome {
  return err.code.toLowerCase() as JobOutcome;
}

/** Settles with the promise, or rejects with TIMEOUT at `deadline` (the promise runs on). */
function beforeDeadline<T>(
  promise: Promise<T>,
  deadline: number,
  now: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new JobError('TIMEOUT', `the deadline passed while ${what}`)),
      Math.max(deadline - now, 0),
    );
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * The `infer` jobs: `run` (one inference, batched with others of the same model) and `load`.
 * Failures are JobErrors; the processor encodes them for BullMQ.
 */
export class InferService {
  private readonly blobPrefix: string;

  constructor(private readonly deps: InferServiceDeps) {
    // Every blob key the gateway may use starts like this; anything else is refused rather than
    // read or deleted.
    this.blobPrefix = deps.keys.blob('x').slice(0, -'{x}'.length);
  }

  async run(job: InferJobContext<InferJobData>): Promise<InferJobResult> {
    const { metrics, clock } = this.deps;
    const data = job.data;
    const started = clock.now();
    const queueMs = Math.max(0, started - job.timestamp);
    const model = typeof data?.model === 'string' ? data.model : '?';
    metrics.queueWait.observe({ model }, queueMs / 1000);
    const blobKeys = blobKeysOf(data?.inputs);
    let lease: ModelLease | undefined;
    try {
      const ref = this.checkRef(data);
      this.checkDeadline(data.deadline, started, queueMs);
      if (!Array.isArray(data.inputs))
        throw new JobError('INVALID_INPUT', 'inputs must be an array');
      const inputs = await this.readInputs(data.inputs);
      lease = await this.acquire(ref, data.deadline);
      const answer = await this.compute(lease, inputs, data.outputs, data.deadline);
      const result: InferJobResult = {
        model: ref.model,
        version: ref.version,
        outputs: answer.outputs,
        computeMs: answer.computeMs,
        queueMs,
        worker: this.deps.workerId,
        batchSize: answer.batchSize,
        batchMax: batchMaxOf(lease),
      };
      this.succeeded(ref, data.requestId ?? String(job.id ?? ''), answer);
      this.offPath(this.deps.blobs.delete(blobKeys), 'blob deletion');
      return result;
    } catch (caught) {
      const err = toJobError(caught);
      this.failed(data, data?.requestId ?? String(job.id ?? ''), err);
      // A job that will be tried again needs its inputs again.
      if (!err.retryable || job.lastAttempt)
        this.offPath(this.deps.blobs.delete(blobKeys), 'blob deletion');
      throw err;
    } finally {
      lease?.release();
    }
  }

  /**
   * Several requests of one version from one gateway: one lease, each request validated and
   * submitted to the batcher on its own, each answered (or failed) on its own. Only what concerns
   * them all — the model reference, the job's deadline, the model's availability — fails the job.
   */
  async batch(job: InferJobContext<InferBatchJobData>): Promise<InferBatchJobResult> {
    const { metrics, clock } = this.deps;
    const data = job.data;
    const started = clock.now();
    const queueMs = Math.max(0, started - job.timestamp);
    const model = typeof data?.model === 'string' ? data.model : '?';
    const requests: readonly Partial<InferBatchRequest>[] = Array.isArray(data?.requests)
      ? data.requests
      : [];
    for (let i = 0; i < Math.max(requests.length, 1); i++) {
      metrics.queueWait.observe({ model }, queueMs / 1000);
    }
    const idOf = (r: Partial<InferBatchRequest> | undefined, i: number) =>
      r?.requestId ?? `${String(job.id ?? '')}.${i}`;
    const blobKeys = requests.flatMap((r) => blobKeysOf(r?.inputs));
    let lease: ModelLease | undefined;
    try {
      const ref = this.checkRef(data);
      this.checkDeadline(data.deadline, started, queueMs);
      if (!Array.isArray(data.requests) || data.requests.length === 0)
        throw new JobError('INVALID_INPUT', 'requests must be a non-empty array');
      lease = await this.acquire(ref, data.deadline);
      const held = lease;
      const results = await Promise.all(
        requests.map(async (request, i): Promise<InferBatchItemResult> => {
          try {
            if (!Array.isArray(request?.inputs))
              throw new JobError('INVALID_INPUT', 'inputs must be an array');
            const deadline =
              typeof request.deadline === 'number' && Number.isFinite(request.deadline)
                ? Math.min(request.deadline, data.deadline)
                : data.deadline;
            const inputs = await this.readInputs(request.inputs);
            const answer = await this.compute(held, inputs, request.outputs, deadline);
            this.succeeded(ref, idOf(request, i), answer);
            return answer;
          } catch (caught) {
            const err = toJobError(caught);
            this.failed(data, idOf(request, i), err);
            return { error: { code: err.code, message: err.message } };
          }
        }),
      );
      this.offPath(this.deps.blobs.delete(blobKeys), 'blob deletion');
      return {
        model: ref.model,
        version: ref.version,
        results,
        queueMs,
        worker: this.deps.workerId,
        batchMax: batchMaxOf(held),
      };
    } catch (caught) {
      const err = toJobError(caught);
      requests.forEach((r, i) => this.failed(data, idOf(r, i), err));
      if (requests.length === 0) this.failed(data, idOf(undefined, 0), err);
      if (!err.retryable || job.lastAttempt)
        this.offPath(this.deps.blobs.delete(blobKeys), 'blob deletion');
      throw err;
    } finally {
      lease?.release();
    }
  }

  private checkDeadline(deadline: unknown, started: number, queueMs: number): void {
    if (typeof deadline !== 'number' || !Number.isFinite(deadline)) {
      throw new JobError('INVALID_INPUT', 'deadline must be a Unix time in ms');
    }
    if (deadline <= started) {
      throw new JobError(
        'TIMEOUT',
        `the deadline passed ${started - deadline} ms before the job started (queued ${queueMs} ms)`,
      );
    }
  }

  private async acquire(ref: ModelVersionRef, deadline: number): Promise<ModelLease> {
    const acquiring = this.deps.pool.acquire(ref);
    return beforeDeadline(
      acquiring,
      deadline,
      this.deps.clock.now(),
      `model "${ref.model}" version ${ref.version} loaded`,
    ).catch((err) => {
      // The load goes on for later requests; give back the lease it brings.
      acquiring.then(
        (l) => l.release(),
        () => undefined,
      );
      throw err;
    });
  }

  /** One request on the loaded model: validated against it, then through its batcher. */
  private async compute(
    lease: ModelLease,
    inputs: RawTensor[],
    wanted: readonly string[] | undefined,
    deadline: number,
  ): Promise<{ outputs: JobTensor[]; computeMs: number; batchSize: number }> {
    const loaded = lease.model;
    const ordered = validateInputs(inputs, loaded.inputSpecs);
    const outputs = validateRequestedOutputs(
      wanted?.map((name) => ({ name })),
      loaded.outputNames.map((name) => ({ name })),
    );
    const answer = await loaded.batcher.submit({ inputs: ordered, outputs, deadline });
    return {
      outputs: outputs.map((name) => toJobTensor(answer.outputs.get(name) as RawTensor)),
      computeMs: round(answer.computeMs),
      batchSize: answer.batchSize,
    };
  }

  private succeeded(
    ref: ModelVersionRef,
    id: string,
    answer: { computeMs: number; batchSize: number },
  ): void {
    this.deps.metrics.jobs.inc({ model: ref.model, job: 'run', outcome: 'ok' });
    this.offPath(
      this.deps.recent.recordSuccess(ref.model, {
        id,
        version: ref.version,
        ms: answer.computeMs,
        batch: answer.batchSize,
        at: this.deps.clock.now(),
      }),
      'recent-inference record',
    );
  }

  private failed(data: Partial<ModelVersionRef> | undefined, id: string, err: JobError): void {
    const model = typeof data?.model === 'string' ? data.model : '?';
    this.deps.metrics.jobs.inc({ model, job: 'run', outcome: outcomeOf(err) });
    if (typeof data?.model === 'string' && Number.isSafeInteger(data.version)) {
      this.offPath(
        this.deps.recent.recordError(data.model, {
          id,
          version: data.version as number,
          code: err.code,
          message: err.message,
          at: this.deps.clock.now(),
        }),
        'recent-error record',
      );
    }
  }

  async load(job: InferJobContext<ModelVersionRef>): Promise<LoadModelResult> {
    const model = typeof job.data?.model === 'string' ? job.data.model : '?';
    try {
      const ref = this.checkRef(job.data);
      const result = await this.deps.pool.ensureLoaded(ref);
      this.deps.metrics.jobs.inc({ model, job: 'load', outcome: 'ok' });
      return {
        model: ref.model,
        version: ref.version,
        worker: this.deps.workerId,
        alreadyLoaded: result.alreadyLoaded,
        loadMs: round(result.loadMs),
      };
    } catch (caught) {
      const err = toJobError(caught);
      this.deps.metrics.jobs.inc({ model, job: 'load', outcome: outcomeOf(err) });
      throw err;
    }
  }

  private checkRef(data: Partial<ModelVersionRef> | undefined): ModelVersionRef {
    if (!data || typeof data.model !== 'string' || data.model.length === 0) {
      throw new JobError('INVALID_INPUT', 'the job names no model');
    }
    if (!Number.isSafeInteger(data.version) || (data.version as number) < 1) {
      throw new JobError(
        'INVALID_INPUT',
        `version must be a positive integer, got ${JSON.stringify(data.version)}`,
      );
    }
    return { model: data.model, version: data.version as number };
  }

  private async readInputs(tensors: readonly JobTensor[]): Promise<RawTensor[]> {
    return Promise.all(
      tensors.map(async (t) => {
        if (t?.blobKey === undefined) return fromJobTensor(t);
        if (typeof t.blobKey !== 'string' || !t.blobKey.startsWith(this.blobPrefix)) {
          throw new JobError(
            'INVALID_INPUT',
            `input "${t.name}": blobKey is not a blob key of this deployment`,
          );
        }
        const bytes = await this.deps.blobs.read(t.blobKey).catch((err) => {
          throw new JobError(
            'UNAVAILABLE',
            `input "${t.name}": cannot read its blob: ${messageOf(err)}`,
            { cause: err },
          );
        });
        if (!bytes)
          throw new JobError(
            'INVALID_INPUT',
            `input "${t.name}": blob ${t.blobKey} is gone (expired or already used)`,
          );
        return fromJobTensor(t, bytes);
      }),
    );
  }

  /** Bookkeeping that must not slow down or fail the answer. */
  private offPath(work: Promise<unknown>, what: string): void {
    work.catch((err) => this.deps.logger.warn({ err }, `${what} failed: ${messageOf(err)}`));
  }
}

function blobKeysOf(inputs: unknown): string[] {
  if (!Array.isArray(inputs)) return [];
  return inputs.flatMap((t: Partial<JobTensor> | undefined) =>
    typeof t?.blobKey === 'string' ? [t.blobKey] : [],
  );
}

/** What the gateway may batch for this version: 1 when the worker runs requests alone. */
function batchMaxOf(lease: ModelLease): number {
  const plan = lease.model.batching;
  return plan.enabled ? plan.maxSize : 1;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
