import type { UsageEvent } from '@strata/usage';

let seq = 0;

/** A valid usage event; fields overridable. */
export function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  seq += 1;
  const startedAt = Date.now();
  return {
    apiKeyHash: 'a'.repeat(64),
    workspace: 'ws-1',
    model: 'resnet',
    version: 1,
    category: 'infer',
    items: 1 + (seq % 7),
    computeMs: 2.5,
    cached: seq % 3 === 0,
    outcome: seq % 11 === 0 ? 'error' : 'ok',
    startedAt,
    finishedAt: startedAt + 3,
    ...overrides,
  };
}
