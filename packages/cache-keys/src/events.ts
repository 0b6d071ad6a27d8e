/**
 * Messages on `RedisKeys.eventsChannel()` that command every inference-worker at once (a job
 * on the `infer` queue would reach only one of them). JSON, one object per message.
 *
 * - `{type:'unload', model, version?}`: drop the loaded session of that version, or of every
 *   version of the model when `version` is absent (pinned versions included: an operator asked).
 * - `{type:'clear'}`: drop every loaded session except pinned ones.
 *
 * The channel also carries the registry's invalidation events (`model-published`,
 * `alias-moved`, ... owned by @strata/model-registry); a subscriber ignores types it does not
 * know, so new event types never break an old process.
 */
export type WorkerCommand = { type: 'unload'; model: string; version?: number } | { type: 'clear' };

export const WORKER_COMMAND_TYPES = [
  'unload',
  'clear',
] as const satisfies readonly WorkerCommand['type'][];

export function serializeWorkerCommand(command: WorkerCommand): string {
  return JSON.stringify(command);
}

/** A channel message read as a JSON object, or undefined for anything else (never throws). */
export function parseJsonRecord(message: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * The worker command a channel message carries, or undefined for any other message (another
 * event type, or text that is not a well-formed command).
 */
export function parseWorkerCommand(message: string): WorkerCommand | undefined {
  const v = parseJsonRecord(message);
  if (!v) return undefined;
  if (v.type === 'clear') return { type: 'clear' };
  if (v.type !== 'unload' || typeof v.model !== 'string' || v.model.length === 0) return undefined;
  if (v.version === undefined) return { type: 'unload', model: v.model };
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version < 1) {
    return undefined;
  }
  return { type: 'unload', model: v.model, version: v.version };
}
