import {
  QUEUE,
  bullPrefix,
  encodeJobFailure,
  serializeInferAnswer,
  type InferErrorCode,
  type InferJobData,
  type InferJobResult,
} from '@strata/cache-keys';
import {
  fromJobTensor,
  ortTypeOf,
  toJobTensor,
  toTypedArray,
  type RawTensor,
} from '@strata/tensors';
import { testRedisUrl } from '@strata/testing';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import * as ort from 'onnxruntime-node';

export type InferHandler = (data: InferJobData, job: Job) => Promise<RawTensor[]>;

export interface FakeWorker {
  readonly worker: Worker;
  readonly jobs: Job[];
  /** Changes what `run` jobs do. */
  handle(handler: InferHandler): void;
  close(): Promise<void>;
}

export class CodedFailure extends Error {
  constructor(code: InferErrorCode, message: string) {
    super(encodeJobFailure(code, message));
  }
}

/**
 * A stand-in for the inference-worker in integration tests: a real BullMQ worker on the `infer`
 * queue of the prefix, reading blob inputs from Redis, answering with a handler's tensors and
 * failing with coded reasons as the real worker does.
 */
export async function startFakeWorker(prefix: string, initial: InferHandler): Promise<FakeWorker> {
  const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  const blobs = new Redis(testRedisUrl());
  let handler = initial;
  const jobs: Job[] = [];
  const worker = new Worker(
    QUEUE.infer,
    async (job: Job) => {
      jobs.push(job);
      if (job.name === 'load') {
        const ref = job.data as { model: string; version: number };
        return {
          model: ref.model,
          version: ref.version,
          worker: 'fake',
          alreadyLoaded: false,
          loadMs: 1,
        };
      }
      if (job.name !== 'run')
        throw new UnrecoverableError(encodeJobFailure('INVALID_INPUT', 'unknown job'));
      const data = job.data as InferJobData;
      try {
        const outputs = await handler(data, job);
        const result: InferJobResult = {
          model: data.model,
          version: data.version,
          outputs: outputs.map(toJobTensor),
          computeMs: 1,
          queueMs: Math.max(0, Date.now() - job.timestamp),
          worker: 'fake',
          batchSize: 1,
        };
        return result;
      } catch (err) {
        throw new UnrecoverableError((err as Error).message);
      }
    },
    { connection, prefix: bullPrefix(prefix), concurrency: 8 },
  );
  worker.on('error', () => undefined);
  // Answers as the inference-worker gives them (its InferAnswerPublisher): on the reply channel
  // the job names, once BullMQ has recorded the outcome; without them every answer would wait
  // for the gateway's poll of job states.
  const reply = (job: Job | undefined, message: { r: unknown } | { e: string }) => {
    const replyTo = (job?.data as { replyTo?: unknown } | undefined)?.replyTo;
    if (typeof replyTo === 'string' && job?.id !== undefined)
      blobs
        .publish(replyTo, serializeInferAnswer({ id: job.id, ...message }))
        .catch(() => undefined);
  };
  worker.on('completed', (job, result) => reply(job, { r: result }));
  worker.on('failed', (job, err) => {
    if (job?.finishedOn) reply(job, { e: job.failedReason ?? err.message });
  });
  await worker.waitUntilReady();
  return {
    worker,
    jobs,
    handle(next) {
      handler = next;
    },
    async close() {
      await worker.close();
      connection.disconnect();
      blobs.disconnect();
    },
  };
}

/** Reads a job's inputs as raw tensors (blob inputs from Redis). */
export async function jobInputs(data: InferJobData): Promise<RawTensor[]> {
  const redis = new Redis(testRedisUrl());
  try {
    return await Promise.all(
      data.inputs.map(async (t) => {
        if (t.blobKey === undefined) return fromJobTensor(t);
        const bytes = await redis.getBuffer(t.blobKey);
        if (!bytes) throw new CodedFailure('INVALID_INPUT', `blob ${t.blobKey} is gone`);
        return fromJobTensor(t, bytes);
      }),
    );
  } finally {
    redis.disconnect();
  }
}

/** Echoes every input back as an output of the same name (an Identity model). */
export const echo: InferHandler = async (data) => jobInputs(data);

/** Runs the job on a real ONNX Runtime session of `file` (FP32 / INT64 inputs and outputs). */
export async function ortHandler(
  file: string,
): Promise<{ handler: InferHandler; release(): Promise<void> }> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  return {
    handler: async (data) => {
      const feeds: Record<string, ort.Tensor> = {};
      for (const t of await jobInputs(data)) {
        const copy = Buffer.from(t.data);
        feeds[t.name] = new ort.Tensor(
          ortTypeOf(t.datatype) as 'float32',
          toTypedArray(t.datatype as 'FP32', copy) as Float32Array,
          t.shape,
        );
      }
      const names = data.outputs ?? session.outputNames;
      const out = await session.run(feeds, names);
      return names.map((name) => {
        const tensor = out[name];
        const arr = tensor.data as Float32Array;
        return {
          name,
          datatype: tensor.type === 'int64' ? 'INT64' : 'FP32',
          shape: [...tensor.dims],
          data: Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength),
        };
      });
    },
    release: () => session.release(),
  };
}
