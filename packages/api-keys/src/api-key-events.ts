/**
 * Messages about API keys on `RedisKeys.eventsChannel()` (JSON, one object per message).
 *
 * - `{type:'key-revoked', keyHash}`: the key with this secret hash was revoked; every gateway
 *   drops its in-process verification of it at once (the Redis entry is already replaced).
 *
 * The channel also carries registry events and worker commands; a subscriber ignores types it
 * does not know, so new event types never break an old process.
 */
export type ApiKeyEvent = { type: 'key-revoked'; keyHash: string };

export const API_KEY_EVENT_TYPES = [
  'key-revoked',
] as const satisfies readonly ApiKeyEvent['type'][];

const KEY_HASH = /^[0-9a-f]{64}$/;

export function serializeApiKeyEvent(event: ApiKeyEvent): string {
  return JSON.stringify(event);
}

/** The API key event a channel message carries, or undefined for any other message. */
export function parseApiKeyEvent(message: string): ApiKeyEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.type !== 'key-revoked' || typeof v.keyHash !== 'string' || !KEY_HASH.test(v.keyHash)) {
    return undefined;
  }
  return { type: 'key-revoked', keyHash: v.keyHash };
}
