import type { RedisKeys } from '@strata/cache-keys';
import type { RedisClient } from '@strata/service-kit';

/**
 * A recent inference as the inference-worker records it (a member of
 * `RedisKeys.recentInferences(model, worker)`: JSON `{id, version, ms, batch, at}`), plus the worker.
 */
export interface RecentInferenceRecord {
  readonly worker: string;
  /** Request id when the gateway sent one, else the job id. */
  readonly id: string;
  readonly version: number;
  /** Compute time of the run that answered it (ms). */
  readonly ms: number;
  /** Items in that run. */
  readonly batch: number;
  /** Finish time, Unix ms. */
  readonly at: number;
}

/** A recent error (`RedisKeys.recentErrors(model, worker)`: `{id, version, code, message, at}`). */
export interface RecentErrorRecord {
  readonly worker: string;
  readonly id: string;
  readonly version: number;
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

export interface RecentInferences {
  readonly model: string;
  /** Newest first, at most n. */
  readonly inferences: RecentInferenceRecord[];
  /** Newest first, at most n. */
  readonly errors: RecentErrorRecord[];
}

export const RECENT_MAX = 1000;

function parse(member: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(member);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function toInference(worker: string, m: Record<string, unknown> | undefined) {
  if (!m || !isStr(m.id) || !isNum(m.version) || !isNum(m.ms) || !isNum(m.batch) || !isNum(m.at))
    return undefined;
  return { worker, id: m.id, version: m.version, ms: m.ms, batch: m.batch, at: m.at };
}

function toError(worker: string, m: Record<string, unknown> | undefined) {
  if (
    !m ||
    !isStr(m.id) ||
    !isNum(m.version) ||
    !isStr(m.code) ||
    !isStr(m.message) ||
    !isNum(m.at)
  )
    return undefined;
  return { worker, id: m.id, version: m.version, code: m.code, message: m.message, at: m.at };
}

const newestFirst = (a: { at: number }, b: { at: number }) => b.at - a.at;

/**
 * Reads the recent-inference records the inference-workers write (see its
 * RecentInferenceRepository): the workers of a model from `recentWorkers(model)`, then the newest
 * n members of each worker's two sets, merged newest first. Every key of a model shares its hash
 * tag, so one pipeline serves them on Redis Cluster too. Backs `GET /v1/models/{m}/recent`.
 */
export class RecentInferenceReader {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** Throws KeySegmentError for a model name that cannot be a key (the gateway answers 400). */
  async recent(model: string, n = 20): Promise<RecentInferences> {
    const limit = Math.min(Math.max(1, Math.floor(n)), RECENT_MAX);
    const workersKey = this.keys.recentWorkers(model);
    const workers = await this.redis.zrange(workersKey, 0, -1);
    const sets: { worker: string; ok: string; err: string }[] = [];
    for (const worker of workers) {
      try {
        sets.push({
          worker,
          ok: this.keys.recentInferences(model, worker),
          err: this.keys.recentErrors(model, worker),
        });
      } catch {
        // A worker id no key can hold was not written by a worker: ignore it.
      }
    }
    if (sets.length === 0) return { model, inferences: [], errors: [] };
    const pipeline = this.redis.pipeline();
    for (const s of sets) {
      pipeline.zrevrange(s.ok, 0, limit - 1);
      pipeline.zrevrange(s.err, 0, limit - 1);
    }
    const replies = (await pipeline.exec()) ?? [];
    const inferences: RecentInferenceRecord[] = [];
    const errors: RecentErrorRecord[] = [];
    sets.forEach((s, i) => {
      const [okErr, okMembers] = replies[2 * i] ?? [null, []];
      const [errErr, errMembers] = replies[2 * i + 1] ?? [null, []];
      if (okErr) throw okErr;
      if (errErr) throw errErr;
      for (const m of okMembers as string[]) {
        const r = toInference(s.worker, parse(m));
        if (r) inferences.push(r);
      }
      for (const m of errMembers as string[]) {
        const r = toError(s.worker, parse(m));
        if (r) errors.push(r);
      }
    });
    return {
      model,
      inferences: inferences.sort(newestFirst).slice(0, limit),
      errors: errors.sort(newestFirst).slice(0, limit),
    };
  }
}
