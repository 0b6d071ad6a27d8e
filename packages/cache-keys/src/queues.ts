import { seg } from './segment';

/**
 * BullMQ queue names. Each name is wrapped in braces so that all of one queue's keys share a
 * Redis Cluster slot (BullMQ's scripts touch several keys at once).
 *
 * RENAMING A QUEUE NEEDS A MIGRATION PLAN: jobs waiting under the old name are not seen by
 * workers of the new one. Deploy consumers of both names, drain the old queue, then remove it.
 */
export const QUEUE = {
  /** gateway → inference-worker: run one inference. */
  infer: '{infer}',
  /** gateway, inference-worker → telemetry-sender: usage events (`records`: many per job). */
  usage: '{usage}',
} as const;

/** inference-worker → model-loader of one cache domain. Same migration rule as QUEUE. */
export function modelLoadQueue(domain: string): string {
  return `{model-load-${seg('cache domain', domain)}}`;
}

/** Options every Queue, Worker and QueueEvents gets so queues live under the key prefix. */
export function bullPrefix(keyPrefix: string): string {
  return seg('key prefix', keyPrefix);
}
