import { parseJsonRecord } from '@strata/cache-keys';

/**
 * What an inference-worker PUBLISHes on a gateway's reply channel (`RedisKeys.inferAnswers`,
 * the job's `replyTo`) once a job is finished: its result (`r`), its failure as BullMQ recorded
 * it (`e`, the encoded JobError), or only its id when the result was too large for a message
 * (then the result is read from the job). The worker's side is
 * apps/inference-worker/src/redis/infer-answer.publisher.ts.
 */
export type InferAnswer =
  { id: string; r: unknown } | { id: string; e: string } | { id: string; r?: never; e?: never };

/** The answer a message carries, or undefined for anything else. */
export function decodeInferAnswer(message: string): InferAnswer | undefined {
  const a = parseJsonRecord(message);
  if (!a) return undefined;
  if (typeof a.id !== 'string') return undefined;
  if ('r' in a) return { id: a.id, r: a.r };
  if (typeof a.e === 'string') return { id: a.id, e: a.e };
  return { id: a.id };
}
