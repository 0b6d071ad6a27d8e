import { Injectable } from '@nestjs/common';
import { withTimeout } from './with-timeout.util';

/** Default bound of one check: a dependency that does not answer by then counts as down. */
export const DEFAULT_READINESS_TIMEOUT_MS = 2000;

export interface ReadinessCheck {
  /** Key in the /readyz answer (`redis`, `postgres`, `model-cache`). */
  readonly name: string;
  /** Resolves when the dependency is usable; rejects (or throws) with the reason otherwise. */
  readonly check: () => Promise<unknown> | unknown;
  readonly timeoutMs?: number;
}

export interface ReadinessReport {
  readonly ok: boolean;
  /** `ok` or the error message, per check. */
  readonly checks: Record<string, string>;
  readonly failing: string[];
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** The registry of readiness checks; /readyz runs them all in parallel, each with its timeout. */
@Injectable()
export class ReadinessService {
  private readonly registered = new Map<string, ReadinessCheck>();

  register(check: ReadinessCheck): void {
    if (this.registered.has(check.name)) {
      throw new Error(`readiness check ${JSON.stringify(check.name)} is registered twice`);
    }
    this.registered.set(check.name, check);
  }

  names(): string[] {
    return [...this.registered.keys()];
  }

  async evaluate(): Promise<ReadinessReport> {
    const entries = [...this.registered.values()];
    const results = await Promise.all(
      entries.map(async (c): Promise<[string, string]> => {
        try {
          await withTimeout(
            Promise.resolve().then(() => c.check()),
            c.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS,
          );
          return [c.name, 'ok'];
        } catch (err) {
          return [c.name, message(err)];
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const failing = results.filter(([, r]) => r !== 'ok').map(([n]) => n);
    return { ok: failing.length === 0, checks, failing };
  }
}
