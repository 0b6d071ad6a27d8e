import type { ModelVersionRef } from '@strata/cache-keys';
import { concatBatch, splitBatch, type RawTensor } from '@strata/tensors';
import type { Logger } from 'pino';
import { GatewayTimeoutError } from '../http/http-errors';
import type { InferOptions, InferOutcome } from '../inference/inference.service';
import type { CacheStatus } from './cache-policy';
import { predictionDigest } from './prediction-digest';
import {
  CorruptEntryError,
  decodePredictionEntry,
  encodePredictionEntry,
  type PredictionEntry,
} from './prediction-entry.codec';
import type { PredictionCacheMetrics } from './prediction-cache.metrics';
import {
  deserializeError,
  encodeNotice,
  serializeError,
  type PredictionNotice,
} from './prediction-notice';
import type { PredictionNoticesSubscriber } from './prediction-notices.subscriber';
import type { PredictionStore } from './prediction-store.adapter';

/** What the cache needs to know of a resolved model version. */
export interface CacheTarget extends ModelVersionRef {
  taskType: string;
  /** Seconds from the version's `model_type.json` (`prediction_cache_ttl`); 0 = never cache. */
  predictionCacheTtl?: number;
}

export interface CachedInferOptions extends InferOptions {
  /** False when the request said `use_cache=false` or `Cache-Control: no-cache|no-store`. */
  useCache: boolean;
  /** Request parameters that change the result (part of the key). */
  parameters?: Readonly<Record<string, unknown>>;
}

export interface CachedOutcome extends InferOutcome {
  cache: CacheStatus;
  /** Embedding batches: rows answered from the cache out of all rows. */
  cacheItems?: { hits: number; total: number };
}

export interface PredictionCacheSettings {
  /** False with DISABLE_INFERENCE_CACHE. */
  enabled: boolean;
  /** PREDICTION_CACHE_TTL (seconds). */
  defaultTtlSeconds: number;
  /** Larger answers are not stored (PREDICTION_CACHE_MAX_ENTRY_BYTES). */
  maxEntryBytes: number;
  /** How long a waiter waits for another gateway's computation (INFER_TIMEOUT_MS). */
  waitTimeoutMs: number;
  /** Re-check interval while waiting, for a notice lost to a pub/sub reconnect. */
  pollMs: number;
}

export interface PredictionCacheDeps {
  compute: (
    target: ModelVersionRef,
    inputs: readonly RawTensor[],
    options: InferOptions,
  ) => Promise<InferOutcome>;
  store: PredictionStore;
  notices: PredictionNoticesSubscriber;
  metrics: PredictionCacheMetrics;
  settings: PredictionCacheSettings;
  logger: Logger;
  now?: () => number;
}

const EMBEDDING_TASK = 'embedding';
// A lock outlives the wait it guards, so a slow but live computation is never run twice.
const LOCK_MARGIN_MS = 5_000;

type RemoteResult = CachedOutcome | 'retry' | 'compute-alone';

/**
 * The prediction cache in front of the queue hop. A request's answer is looked up by a digest
 * of everything that determines it (prediction-digest.ts, including the version's cache
 * generation, so invalidation is one INCR). Misses are coalesced: identical concurrent misses in
 * this gateway share one promise; across gateways the first takes a Redis lock and computes, the
 * others wait for its notice on `pred-done` (or poll) and read the stored entry. A failure is
 * never stored and reaches every waiter. Models of task type `embedding` are cached per row of
 * the batch: one MGET, only the missing rows computed, as one batch.
 *
 * Redis trouble never fails a request here: a failed lookup is a miss, a failed store is
 * skipped (the queue hop itself reports Redis being down).
 */
export class PredictionCacheService {
  private readonly inflight = new Map<string, Promise<CachedOutcome>>();
  private readonly now: () => number;

  constructor(private readonly deps: PredictionCacheDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Seconds an answer of `target` is kept; 0 = not cached. */
  ttlFor(target: CacheTarget): number {
    if (!this.deps.settings.enabled) return 0;
    return target.predictionCacheTtl ?? this.deps.settings.defaultTtlSeconds;
  }

  async infer(
    target: CacheTarget,
    inputs: readonly RawTensor[],
    options: CachedInferOptions,
  ): Promise<CachedOutcome> {
    const ttl = options.useCache ? this.ttlFor(target) : 0;
    const { metrics } = this.deps;
    if (ttl === 0) {
      metrics.request(target.model, 'bypass');
      return { ...(await this.deps.compute(target, inputs, options)), cache: 'bypass' };
    }
    const started = this.now();
    const generation = await this.generation(target);
    if (generation === undefined) {
      metrics.request(target.model, 'bypass');
      return { ...(await this.deps.compute(target, inputs, options)), cache: 'bypass' };
    }
    if (target.taskType === EMBEDDING_TASK && rowsOf(inputs) !== undefined) {
      return this.inferRows(target, inputs, options, generation, ttl, started);
    }
    const digest = predictionDigest({
      model: target.model,
      version: target.version,
      generation,
      inputs,
      outputs: options.outputs,
      parameters: options.parameters,
    });
    const lookupStarted = process.hrtime.bigint();
    const entry = await this.read(digest);
    metrics.lookup(entry ? 'hit' : 'miss', seconds(lookupStarted));
    if (entry) {
      metrics.request(target.model, 'hit');
      return hitOutcome(entry, this.now() - started);
    }
    const shared = this.inflight.get(digest);
    if (shared) {
      metrics.coalesced(target.model, 'local');
      const outcome = await shared;
      metrics.request(target.model, 'hit');
      return { ...outcome, computeMs: 0, cached: true, cache: 'hit' };
    }
    const computing = this.computeShared(target, inputs, options, digest, ttl, started);
    this.inflight.set(digest, computing);
    try {
      const outcome = await computing;
      metrics.request(target.model, outcome.cache);
      return outcome;
    } finally {
      this.inflight.delete(digest);
    }
  }

  private async generation(target: ModelVersionRef): Promise<string | undefined> {
    try {
      return await this.deps.store.generation(target.model, target.version);
    } catch (err) {
      this.failed('generation', err);
      return undefined;
    }
  }

  /** The stored entry, or undefined (absent, unreadable — then deleted — or Redis failed). */
  private async read(digest: string): Promise<PredictionEntry | undefined> {
    let bytes: Buffer | null;
    try {
      bytes = await this.deps.store.get(digest);
    } catch (err) {
      this.failed('get', err);
      return undefined;
    }
    return bytes ? this.decode(digest, bytes) : undefined;
  }

  private decode(digest: string, bytes: Buffer): PredictionEntry | undefined {
    try {
      return decodePredictionEntry(bytes);
    } catch (err) {
      if (!(err instanceof CorruptEntryError)) throw err;
      this.failed('decode', err);
      void this.deps.store.delete(digest).catch(() => undefined);
      return undefined;
    }
  }

  private async computeShared(
    target: CacheTarget,
    inputs: readonly RawTensor[],
    options: CachedInferOptions,
    digest: string,
    ttl: number,
    started: number,
  ): Promise<CachedOutcome> {
    const { settings } = this.deps;
    const deadline = started + settings.waitTimeoutMs;
    for (;;) {
      let token: string | undefined;
      try {
        token = await this.deps.store.acquireLock(digest, settings.waitTimeoutMs + LOCK_MARGIN_MS);
      } catch (err) {
        this.failed('lock', err);
        return this.computeAndStore(target, inputs, options, digest, ttl, undefined);
      }
      if (token !== undefined) {
        // Double-checked: the previous holder may have stored the entry and released its lock
        // between this request's lookup and its SET NX.
        const stored = await this.read(digest);
        if (stored) {
          await this.deps.store
            .releaseLock(digest, token)
            .catch((err: unknown) => this.failed('unlock', err));
          return hitOutcome(stored, this.now() - started);
        }
        return this.computeAndStore(target, inputs, options, digest, ttl, token);
      }
      this.deps.metrics.coalesced(target.model, 'remote');
      const result = await this.awaitRemote(digest, deadline, started);
      if (result === 'compute-alone') {
        return { ...(await this.deps.compute(target, inputs, options)), cache: 'miss' };
      }
      if (result !== 'retry') return result;
    }
  }

  /** Waits for the gateway holding the lock: its entry, its error, or a reason to try again. */
  private async awaitRemote(
    digest: string,
    deadline: number,
    started: number,
  ): Promise<RemoteResult> {
    const { notices, settings } = this.deps;
    while (this.now() < deadline) {
      // Listen first, then look: a notice sent between the two is not missed.
      const noticed = notices.wait(
        digest,
        Math.min(settings.pollMs, Math.max(1, deadline - this.now())),
      );
      const early = await this.read(digest);
      if (early) return { ...hitOutcome(early, this.now() - started) };
      const notice: PredictionNotice | undefined = await noticed;
      if (notice?.s === 'error') throw deserializeError(notice.e);
      if (notice?.s === 'uncached') return 'compute-alone';
      const entry = await this.read(digest);
      if (entry) return hitOutcome(entry, this.now() - started);
      if (notice?.s === 'ok') return 'retry';
      // No entry and nobody computing: the holder died or its lock expired; take over.
      try {
        if (!(await this.deps.store.lockHeld(digest))) return 'retry';
      } catch (err) {
        this.failed('lock', err);
        return 'compute-alone';
      }
    }
    throw new GatewayTimeoutError(
      `no answer within ${settings.waitTimeoutMs} ms (an identical request computing in another gateway did not finish)`,
    );
  }

  private async computeAndStore(
    target: CacheTarget,
    inputs: readonly RawTensor[],
    options: CachedInferOptions,
    digest: string,
    ttl: number,
    token: string | undefined,
  ): Promise<CachedOutcome> {
    let outcome: InferOutcome;
    try {
      outcome = await this.deps.compute(target, inputs, options);
    } catch (err) {
      if (token !== undefined)
        await this.settle(digest, token, { d: digest, s: 'error', e: serializeError(err) });
      throw err;
    }
    const stored = await this.store(
      target.model,
      [{ digest, outputs: outcome.outputs, computeMs: outcome.computeMs }],
      ttl,
    );
    if (token !== undefined)
      await this.settle(digest, token, { d: digest, s: stored ? 'ok' : 'uncached' });
    return { ...outcome, cache: 'miss' };
  }

  /** Tells the waiters and frees the lock; best effort (waiters also poll and see it expire). */
  private async settle(digest: string, token: string, notice: PredictionNotice): Promise<void> {
    const { store } = this.deps;
    await Promise.all([
      store.notify(encodeNotice(notice)).catch((err: unknown) => this.failed('notify', err)),
      store.releaseLock(digest, token).catch((err: unknown) => this.failed('unlock', err)),
    ]);
  }

  /** Stores answers that fit; true when every one was stored. */
  private async store(
    model: string,
    answers: readonly { digest: string; outputs: RawTensor[]; computeMs: number }[],
    ttl: number,
  ): Promise<boolean> {
    const { settings, metrics } = this.deps;
    const entries: { digest: string; value: Buffer }[] = [];
    for (const a of answers) {
      const value = encodePredictionEntry({ outputs: a.outputs, computeMs: a.computeMs });
      if (value.length > settings.maxEntryBytes) {
        metrics.skipped(model, 'too_large');
        continue;
      }
      entries.push({ digest: a.digest, value });
      metrics.stored(model, value.length);
    }
    if (entries.length === 0) return false;
    try {
      if (entries.length === 1) await this.deps.store.set(entries[0].digest, entries[0].value, ttl);
      else await this.deps.store.setMany(entries, ttl);
    } catch (err) {
      this.failed('set', err);
      return false;
    }
    return entries.length === answers.length;
  }

  /**
   * Embedding batches: one digest per row (the row of every input), one MGET, the missing rows
   * computed as one batch, split back and stored per row. Falls back to computing the whole
   * request when the outputs are not row-per-item (their first dimension is not the batch).
   */
  private async inferRows(
    target: CacheTarget,
    inputs: readonly RawTensor[],
    options: CachedInferOptions,
    generation: string,
    ttl: number,
    started: number,
  ): Promise<CachedOutcome> {
    const { metrics } = this.deps;
    const total = rowsOf(inputs) as number;
    const ones = new Array<number>(total).fill(1);
    const split = inputs.map((t) => splitBatch(t, ones));
    const rowInputs = (row: number): RawTensor[] => split.map((parts) => parts[row]);
    const digests = ones.map((_, row) =>
      predictionDigest({
        model: target.model,
        version: target.version,
        generation,
        inputs: rowInputs(row),
        outputs: options.outputs,
        parameters: options.parameters,
        scope: 'item',
      }),
    );
    const lookupStarted = process.hrtime.bigint();
    let stored: (Buffer | null)[];
    try {
      stored = await this.deps.store.getMany(digests);
    } catch (err) {
      this.failed('get', err);
      stored = digests.map(() => null);
    }
    const rows: (PredictionEntry | undefined)[] = stored.map((bytes, i) =>
      bytes ? this.decode(digests[i], bytes) : undefined,
    );
    const missing = rows.flatMap((r, i) => (r ? [] : [i]));
    const hits = total - missing.length;
    metrics.lookup(missing.length === 0 ? 'hit' : 'miss', seconds(lookupStarted));
    metrics.rows(target.model, hits, missing.length);

    let computed: InferOutcome | undefined;
    if (missing.length > 0) {
      const batch = split.map((parts) => concatBatch(missing.map((row) => parts[row])));
      computed = await this.deps.compute(target, batch, options);
      const perRow = splitRows(computed.outputs, missing.length);
      if (!perRow) {
        // Not row-per-item: nothing can be cached or mixed; answer the whole request fresh.
        metrics.skipped(target.model, 'not_per_row');
        const whole = hits === 0 ? computed : await this.deps.compute(target, inputs, options);
        metrics.request(target.model, 'miss');
        return { ...whole, cache: 'miss', cacheItems: { hits: 0, total } };
      }
      const rowMs = computed.computeMs / missing.length;
      missing.forEach((row, j) => (rows[row] = { outputs: perRow[j], computeMs: rowMs }));
      await this.store(
        target.model,
        missing.map((row, j) => ({ digest: digests[row], outputs: perRow[j], computeMs: rowMs })),
        ttl,
      );
    }
    const entries = rows as PredictionEntry[];
    const outputs = joinRows(entries);
    if (!outputs) {
      // Cached rows that cannot be joined (different trailing shapes): compute it whole.
      metrics.skipped(target.model, 'not_per_row');
      metrics.request(target.model, 'miss');
      return {
        ...(await this.deps.compute(target, inputs, options)),
        cache: 'miss',
        cacheItems: { hits: 0, total },
      };
    }
    const status: CacheStatus = missing.length === 0 ? 'hit' : 'miss';
    metrics.request(target.model, status);
    const elapsed = this.now() - started;
    return {
      outputs,
      computeMs: computed?.computeMs ?? 0,
      queueMs: computed?.queueMs ?? 0,
      roundTripMs: computed?.roundTripMs ?? elapsed,
      worker: computed?.worker ?? 'cache',
      batchSize: computed?.batchSize ?? 0,
      cached: missing.length === 0,
      cache: status,
      cacheItems: { hits, total },
    };
  }

  private failed(op: string, err: unknown): void {
    this.deps.metrics.error(op);
    this.deps.logger.debug({ err }, `prediction cache: ${op} failed`);
  }
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function hitOutcome(entry: PredictionEntry, elapsedMs: number): CachedOutcome {
  return {
    outputs: entry.outputs,
    computeMs: 0,
    queueMs: 0,
    roundTripMs: elapsedMs,
    worker: 'cache',
    batchSize: 0,
    cached: true,
    cache: 'hit',
  };
}

/** The batch size every input shares (first dimension), or undefined when they do not. */
function rowsOf(inputs: readonly RawTensor[]): number | undefined {
  if (inputs.length === 0) return undefined;
  const n = inputs[0].shape[0];
  if (n === undefined || n < 1) return undefined;
  return inputs.every((t) => t.shape.length >= 1 && t.shape[0] === n) ? n : undefined;
}

/** Outputs of a batch of `rows` rows cut per row; undefined when an output is not row-major. */
function splitRows(outputs: readonly RawTensor[], rows: number): RawTensor[][] | undefined {
  if (outputs.some((o) => o.shape.length === 0 || o.shape[0] !== rows)) return undefined;
  const ones = new Array<number>(rows).fill(1);
  const cut = outputs.map((o) => splitBatch(o, ones));
  return ones.map((_, row) =>
    cut.map((parts) => ({ ...parts[row], data: Buffer.from(parts[row].data) })),
  );
}

/** Rows joined back into whole outputs, in the first row's output order; undefined if they differ. */
function joinRows(rows: readonly PredictionEntry[]): RawTensor[] | undefined {
  const names = rows[0].outputs.map((o) => o.name);
  try {
    return names.map((name) =>
      concatBatch(
        rows.map((r) => {
          const o = r.outputs.find((x) => x.name === name);
          if (!o) throw new Error('missing output');
          return o;
        }),
      ),
    );
  } catch {
    return undefined;
  }
}
