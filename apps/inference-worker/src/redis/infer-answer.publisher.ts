import { serializeInferAnswer, type RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';

/** Results larger than this (as JSON) are not sent in the message: the gateway reads the job. */
export const MAX_ANSWER_CHARS = 64 * 1024;

/** What of a finished BullMQ job the publisher needs. */
export interface FinishedJob {
  readonly id?: string;
  readonly data: unknown;
}

/**
 * Tells the gateway that submitted an `infer` job (its `replyTo`, a `RedisKeys.inferAnswers`
 * channel) that the job finished, once BullMQ has recorded the outcome on the job: the message
 * carries the result (`r`) when it is small, the failure as recorded (`e`), or only the job id
 * (the gateway then reads the result from the job). Best effort: a lost message (Redis away, the
 * gateway's subscriber reconnecting) is recovered by the gateway reading the job's state. The
 * format is `InferAnswer` of @strata/cache-keys.
 */
export class InferAnswerPublisher {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly onError: (err: unknown) => void,
    private readonly maxChars = MAX_ANSWER_CHARS,
  ) {}

  completed(job: FinishedJob, result: unknown): void {
    const channel = this.channelOf(job);
    if (channel === undefined) return;
    const id = job.id as string;
    const full = serializeInferAnswer({ id, r: result });
    this.publish(channel, full.length <= this.maxChars ? full : serializeInferAnswer({ id }));
  }

  failed(job: FinishedJob, failedReason: string): void {
    const channel = this.channelOf(job);
    if (channel !== undefined)
      this.publish(channel, serializeInferAnswer({ id: job.id as string, e: failedReason }));
  }

  private channelOf(job: FinishedJob): string | undefined {
    const replyTo = (job.data as { replyTo?: unknown } | undefined)?.replyTo;
    if (typeof replyTo !== 'string' || typeof job.id !== 'string') return undefined;
    // Only channels of this deployment's gateways are written to, whatever a job says.
    return this.keys.isInferAnswers(replyTo) ? replyTo : undefined;
  }

  private publish(channel: string, message: string): void {
    this.redis.publish(channel, message).catch(this.onError);
  }
}
