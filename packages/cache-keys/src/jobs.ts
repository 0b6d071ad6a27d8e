/**
 * Payload and result types of every job, per queue kind and job name. Producers and consumers
 * both type-check against this map (see job-map.ts), so a change here breaks whichever side is
 * out of date at compile time rather than in production.
 */

/** Tensor datatypes of the Open Inference Protocol. */
export type TensorDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

/** A tensor in a job: raw little-endian bytes, never a JSON array of numbers. */
export interface JobTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  /** base64 of the raw bytes, for small tensors. */
  data?: string;
  /** Redis key of a blob holding the raw bytes, for large tensors. */
  blobKey?: string;
}

export interface InferJobData {
  model: string;
  version: number;
  inputs: JobTensor[];
  /** Names of the outputs wanted; all when absent. */
  outputs?: string[];
  /** Request id echoed in the answer. */
  requestId?: string;
  /** Unix ms after which the gateway no longer waits; the worker drops the job then. */
  deadline: number;
  /**
   * Reply address of the gateway waiting for the answer (`RedisKeys.inferAnswers`). Once the job
   * is finished (completed or finally failed, as recorded on the job), the worker PUBLISHes there
   * a JSON `{"id": jobId, "r": result}`, `{"id": jobId, "e": failedReason}`, or `{"id": jobId}`
   * when the result is too large for a message (the gateway reads it from the job). Absent: the
   * submitter reads the job's state itself.
   */
  replyTo?: string;
}

export interface InferJobResult {
  model: string;
  version: number;
  outputs: JobTensor[];
  computeMs: number;
  queueMs: number;
  worker: string;
  batchSize: number;
  /**
   * Most requests the worker batches into one run of this version (its batching plan's maxSize;
   * 1 = it runs every request alone). Gateways send `batch` jobs only to versions that say > 1.
   * Absent from older workers.
   */
  batchMax?: number;
}

/** One request of a `batch` job. */
export interface InferBatchRequest {
  inputs: JobTensor[];
  outputs?: string[];
  requestId?: string;
  /** Unix ms; the request's own deadline (the job's is the earliest of them). */
  deadline: number;
}

/**
 * Several requests for one version that met at one gateway, in one job: the queue hop (job,
 * events, Redis commands, worker bookkeeping) is paid once for all of them. The worker still
 * batches each request as it would a `run` job.
 */
export interface InferBatchJobData {
  model: string;
  version: number;
  requests: InferBatchRequest[];
  /** The earliest deadline of the requests: the worker drops the whole job after it. */
  deadline: number;
  /** As in InferJobData. */
  replyTo?: string;
}

/** A request's answer in a `batch` result: its outputs, or the error it alone failed with. */
export type InferBatchItemResult =
  | { outputs: JobTensor[]; computeMs: number; batchSize: number }
  | { error: { code: string; message: string } };

export interface InferBatchJobResult {
  model: string;
  version: number;
  /** In the order of the job's requests. */
  results: InferBatchItemResult[];
  queueMs: number;
  worker: string;
  batchMax?: number;
}

/** An `infer` `load` job: the version to load in the worker that takes it. */
export interface InferLoadJobData extends ModelVersionRef {
  /** As in InferJobData. */
  replyTo?: string;
}

/** Answer of an `infer` `load` job: the worker that took it has the version loaded. */
export interface LoadModelResult {
  model: string;
  version: number;
  worker: string;
  /** Whether that worker had the version loaded already. */
  alreadyLoaded: boolean;
  /** Time spent loading (0 when already loaded). */
  loadMs: number;
}

export interface ModelVersionRef {
  model: string;
  version: number;
}

export interface EnsureResult {
  /** Absolute path of the verified directory of the version. */
  path: string;
  /** Whether it was already on disk. */
  cached: boolean;
}

export interface ClearJobData {
  /** One model, or every model when absent. */
  model?: string;
}

export interface ClearResult {
  removed: number;
}

export type UsageCategory = 'infer' | 'workflow';

export interface UsageEvent {
  apiKeyHash: string;
  workspace: string;
  model: string;
  version: number;
  category: UsageCategory;
  items: number;
  computeMs: number;
  cached: boolean;
  outcome: 'ok' | 'error';
  /** Unix ms. */
  startedAt: number;
  finishedAt: number;
}

/** Events of several requests in one `usage` job (see the `records` job). */
export interface UsageRecordsJobData {
  events: UsageEvent[];
}

/** Most events one `records` job may carry (the emitter sends at most its batch size). */
export const USAGE_RECORDS_MAX_EVENTS = 10000;

/** The typed job map: queue kind → job name → { data, result }. */
export interface JobMap {
  infer: {
    run: { data: InferJobData; result: InferJobResult };
    /** Several `run` requests of one version in one job (see InferBatchJobData). */
    batch: { data: InferBatchJobData; result: InferBatchJobResult };
    /** Load a version into the worker that takes the job (unload/clear go over pub/sub: events.ts). */
    load: { data: InferLoadJobData; result: LoadModelResult };
  };
  'model-load': {
    ensure: { data: ModelVersionRef; result: EnsureResult };
    evict: { data: ModelVersionRef; result: { evicted: boolean } };
    clear: { data: ClearJobData; result: ClearResult };
  };
  usage: {
    /**
     * One event. Emitters no longer send it (they send `records`); still consumed so events
     * queued by older gateways and workers during a rolling upgrade are counted.
     */
    record: { data: UsageEvent; result: void };
    /**
     * The events of many requests: one queue add, one fetch and one acknowledgement for up to a
     * batch of them, instead of one job per request (a cache hit costs ~0.2 ms of CPU less).
     */
    records: { data: UsageRecordsJobData; result: void };
  };
}

export type QueueKind = keyof JobMap;
export type JobName<Q extends QueueKind> = keyof JobMap[Q] & string;
export type JobData<Q extends QueueKind, N extends JobName<Q>> = JobMap[Q][N] extends {
  data: infer D;
}
  ? D
  : never;
export type JobResult<Q extends QueueKind, N extends JobName<Q>> = JobMap[Q][N] extends {
  result: infer R;
}
  ? R
  : never;

/**
 * Every job name at run time. `satisfies` makes the compiler reject a list that misses a name
 * of the map, so a worker can check at boot that it has a handler for each.
 */
export const JOB_NAMES = {
  infer: ['run', 'batch', 'load'],
  'model-load': ['ensure', 'evict', 'clear'],
  usage: ['record', 'records'],
} as const satisfies { [Q in QueueKind]: readonly JobName<Q>[] };

type Exhaustive<Q extends QueueKind> =
  Exclude<JobName<Q>, (typeof JOB_NAMES)[Q][number]> extends never ? true : false;
// Compile-time proof that JOB_NAMES lists every job of every queue.
const _exhaustive: { [Q in QueueKind]: Exhaustive<Q> } = {
  infer: true,
  'model-load': true,
  usage: true,
};
void _exhaustive;
