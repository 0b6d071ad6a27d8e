import { parseJsonRecord } from './events';

/**
 * What an inference-worker PUBLISHes on a gateway's reply channel (`RedisKeys.inferAnswers`,
 * the job's `replyTo`) once a job is finished: its result (`r`), its failure as BullMQ recorded
 * it (`e`, the encoded JobError), or only its id when the result was too large for a message
 * (the gateway then reads the result from the job). JSON, one object per message.
 */
export type InferAnswer =
  { id: string; r: unknown } | { id: string; e: string } | { id: string; r?: never; e?: never };

export function serializeInferAnswer(answer: InferAnswer): string {
  return JSON.stringify(answer);
}

/** The answer a message carries, or undefined for anything else (never throws). */
export function parseInferAnswer(message: string): InferAnswer | undefined {
  const a = parseJsonRecord(message);
  if (!a || typeof a.id !== 'string') return undefined;
  if ('r' in a) return { id: a.id, r: a.r };
  if (typeof a.e === 'string') return { id: a.id, e: a.e };
  return { id: a.id };
}
