import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { QUEUE, createDispatcher, encodeJobFailure, type JobError } from '@strata/cache-keys';
import { QueueWorkerHost } from '@strata/service-kit';
import { UnrecoverableError, type Job } from 'bullmq';
import { InferAnswerPublisher } from '../redis/infer-answer.publisher';
import { WORKER_SETTINGS, type WorkerSettings } from '../worker-settings';
import { InferService, type InferJobContext } from './infer.service';

/** A JobError as BullMQ failure: the code inside the message; no retry for bad requests. */
export function toBullFailure(err: JobError): Error {
  const message = encodeJobFailure(err.code, err.message);
  return err.retryable ? new Error(message) : new UnrecoverableError(message);
}

function contextOf<D>(job: Job): InferJobContext<D> {
  const attempts = job.opts.attempts ?? 1;
  return {
    id: job.id,
    data: job.data as D,
    timestamp: job.timestamp,
    lastAttempt: job.attemptsMade + 1 >= attempts,
  };
}

/**
 * Consumes the `infer` queue. Concurrency above the batch size lets jobs of one model gather
 * into a batch. The lock settings bound how long a job of a worker that died (SIGKILL, OOM) waits
 * before another worker takes it: the lock expires after INFER_JOB_LOCK_MS, and every worker
 * looks for such stalled jobs every INFER_STALLED_INTERVAL_MS.
 *
 * Answers: BullMQ emits `completed` / `failed` once it has recorded the outcome on the job
 * (moveToFinished; not when the lock was lost, the job then being another worker's); the
 * gateway named in the job (`replyTo`) is told then. A job failed by the stalled-job check
 * (more than INFER_MAX_STALLED_COUNT stalls) gets no message: its gateway reads its state.
 */
@Injectable()
export class InferProcessor implements OnModuleInit {
  constructor(
    private readonly host: QueueWorkerHost,
    private readonly infer: InferService,
    private readonly answers: InferAnswerPublisher,
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
  ) {}

  onModuleInit(): void {
    const s = this.settings;
    const worker = this.host.consume({
      queue: QUEUE.infer,
      concurrency: s.concurrency,
      options: {
        name: s.workerId,
        lockDuration: s.lockDurationMs,
        stalledInterval: s.stalledIntervalMs,
        maxStalledCount: s.maxStalledCount,
      },
      processor: createDispatcher('infer', {
        run: (job) =>
          this.infer.run(contextOf(job)).catch((err) => Promise.reject(toBullFailure(err))),
        batch: (job) =>
          this.infer.batch(contextOf(job)).catch((err) => Promise.reject(toBullFailure(err))),
        load: (job) =>
          this.infer.load(contextOf(job)).catch((err) => Promise.reject(toBullFailure(err))),
      }),
    });
    worker.on('completed', (job, result) => this.answers.completed(job, result));
    worker.on('failed', (job, err) => {
      // Also emitted for an attempt that will be retried (finishedOn unset): not final yet.
      if (job?.finishedOn) this.answers.failed(job, job.failedReason ?? err.message);
    });
  }
}
