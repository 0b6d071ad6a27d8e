import type { UsageEvent } from '@strata/usage';

let seq = 0;

/** A valid usage event; fields overridable. */
export function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  seq += 1;
  const startedAt = 1_790_000_000_000 + seq;
  return {
    apiKeyHash: 'a'.repeat(64),
    workspace: 'ws-1',
    model: 'resnet',
    version: 1,
    category: 'infer',
    items: 1,
    computeMs: 2.5,
    cached: false,
    outcome: 'ok',
    startedAt,
    finishedAt: startedAt + 3,
    ...overrides,
  };
}
