import type { VerifiedApiKey } from '@strata/api-keys';
import type { ModelVersionRef, UsageEvent } from '@strata/cache-keys';

/** Whose request it is: the authenticated key (the guard put it on the request). */
export type UsageCaller = Pick<VerifiedApiKey, 'keyHash' | 'workspace'>;

/** What the usage of a request needs from `UsageEmitter` (sync, never throws, never waits). */
export interface UsageSink {
  emit(event: UsageEvent): void;
}

/** What one request used, filled in by the route as it learns it. */
export interface UsageTally {
  /** Batch dimension of the first input, 1 for an image; 0 while unknown (unreadable input). */
  items: number;
  /** Compute time the worker reported; 0 when no worker computed. */
  computeMs: number;
  /** Answered without a worker computing it (the prediction cache). */
  cached: boolean;
}

/** Copies what the queue hop (or, later, the prediction cache) reported into the tally. */
export function countAnswer(
  tally: UsageTally,
  answer: { readonly computeMs: number; readonly cached: boolean },
): void {
  tally.computeMs = answer.computeMs;
  tally.cached = answer.cached;
}

/** Items of a tensor request: the batch (first) dimension of the first input; 1 for a scalar. */
export function batchItems(inputs: readonly { readonly shape: readonly number[] }[]): number {
  const first = inputs[0];
  if (!first) return 0;
  return first.shape.length === 0 ? 1 : (first.shape[0] ?? 0);
}

/**
 * The one place the gateway emits usage: every inference route (v2 infer, classification, object
 * detection) runs its work, once the model version has resolved, inside `track`, which emits
 * exactly one `infer` event when it settles — `ok`, or `error` with whatever was known when it
 * failed. Failures before the model resolves (auth, unknown model, invalid name) emit nothing:
 * there is no model to account them to. The inference-worker emits nothing (the gateway knows
 * the key and the workspace).
 */
export class InferenceUsage {
  constructor(
    private readonly sink: UsageSink,
    private readonly now: () => number = Date.now,
  ) {}

  async track<T>(
    caller: UsageCaller | undefined,
    target: ModelVersionRef,
    initial: Partial<UsageTally>,
    run: (tally: UsageTally) => Promise<T>,
  ): Promise<T> {
    const startedAt = this.now();
    const tally: UsageTally = { items: 0, computeMs: 0, cached: false, ...initial };
    let outcome: UsageEvent['outcome'] = 'error';
    try {
      const result = await run(tally);
      outcome = 'ok';
      return result;
    } finally {
      // Without a caller there is no key to account to (routes behind the guard always have one).
      if (caller) {
        this.sink.emit({
          apiKeyHash: caller.keyHash,
          workspace: caller.workspace,
          model: target.model,
          version: target.version,
          category: 'infer',
          items: tally.items,
          computeMs: tally.computeMs,
          cached: tally.cached,
          outcome,
          startedAt,
          finishedAt: Math.max(startedAt, this.now()),
        });
      }
    }
  }
}
