import { UnrecoverableError, type Job, type JobsOptions, type Queue } from 'bullmq';
import { JOB_NAMES, type JobData, type JobName, type JobResult, type QueueKind } from './jobs';

export type TypedJob<Q extends QueueKind, N extends JobName<Q>> = Job<
  JobData<Q, N>,
  JobResult<Q, N>,
  N
>;

/** A producer that only accepts job names and payloads of its queue kind. */
export interface TypedProducer<Q extends QueueKind> {
  readonly kind: Q;
  readonly queue: Queue;
  add<N extends JobName<Q>>(
    name: N,
    data: JobData<Q, N>,
    opts?: JobsOptions,
  ): Promise<TypedJob<Q, N>>;
}

export function typedProducer<Q extends QueueKind>(kind: Q, queue: Queue): TypedProducer<Q> {
  return {
    kind,
    queue,
    add: (name, data, opts) => queue.add(name, data, opts) as Promise<never>,
  };
}

/** One handler per job of the queue kind; the compiler rejects a missing or mistyped one. */
export type JobHandlers<Q extends QueueKind> = {
  [N in JobName<Q>]: (job: TypedJob<Q, N>) => Promise<JobResult<Q, N>>;
};

export class MissingJobHandlerError extends Error {
  constructor(kind: QueueKind, missing: readonly string[]) {
    super(
      `queue ${kind}: no handler for job${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    );
    this.name = 'MissingJobHandlerError';
  }
}

/**
 * Turns a handler map into a BullMQ processor. Throws at once (so the worker refuses to start)
 * if a job the queue kind owns has no handler. A job name unknown to the map fails without
 * retries: retrying cannot make it known.
 */
export function createDispatcher<Q extends QueueKind>(
  kind: Q,
  handlers: JobHandlers<Q>,
): (job: Job) => Promise<unknown> {
  const names = JOB_NAMES[kind] as readonly string[];
  const table = handlers as unknown as Record<string, ((job: Job) => Promise<unknown>) | undefined>;
  const missing = names.filter((n) => typeof table[n] !== 'function');
  if (missing.length > 0) throw new MissingJobHandlerError(kind, missing);
  return async (job: Job) => {
    const handler = names.includes(job.name) ? table[job.name] : undefined;
    if (!handler)
      throw new UnrecoverableError(`queue ${kind}: unknown job name ${JSON.stringify(job.name)}`);
    return handler(job);
  };
}
