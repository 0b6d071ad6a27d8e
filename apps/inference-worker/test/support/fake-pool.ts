import { JobError, type ModelVersionRef } from '@strata/cache-keys';
import type { RawTensor } from '@strata/tensors';
import pino from 'pino';
import { Registry } from 'prom-client';
import { WorkerMetrics } from '../../src/metrics/worker.metrics';
import { LeaseKeeper } from '../../src/models/lease-keeper.service';
import type { LeaseStore, ModelSource } from '../../src/models/model-source';
import { SessionPool, type PoolSettings } from '../../src/models/session-pool.service';
import type { ModelSession, SessionFactory, TensorInfo } from '../../src/ort/model-session';
import type { PlacementRepository } from '../../src/redis/placement.repository';

// In-memory stand-ins for the pool's ports, for unit tests of its policy. Integration tests use
// real directories, ONNX Runtime and Redis instead.

export class FakeClock {
  constructor(public t = 1_000_000) {}
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export class FakeSource implements ModelSource {
  readonly ensured: string[] = [];
  readonly released: string[] = [];
  readonly known = new Set<string>();
  delayMs = 0;

  async ensure(ref: ModelVersionRef): Promise<{ path: string; cached: boolean }> {
    const key = `${ref.model}/${ref.version}`;
    this.ensured.push(key);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.known.size > 0 && !this.known.has(key))
      throw new JobError('NOT_FOUND', `${key} is not published`);
    return { path: `/nonexistent/${key}`, cached: true };
  }

  async release(ref: ModelVersionRef): Promise<void> {
    this.released.push(`${ref.model}/${ref.version}`);
  }
}

export class FakeSession implements ModelSession {
  readonly inputs: TensorInfo[] = [{ name: 'x', datatype: 'FP32', dims: ['N', 1] }];
  readonly outputs: TensorInfo[] = [{ name: 'y', datatype: 'FP32', dims: ['N', 1] }];
  released = false;
  constructor(readonly path: string) {}
  async run(feeds: readonly RawTensor[]): Promise<Map<string, RawTensor>> {
    return new Map([['y', { ...feeds[0], name: 'y' }]]);
  }
  async release(): Promise<void> {
    this.released = true;
  }
}

export class FakeSessions implements SessionFactory {
  readonly created: FakeSession[] = [];
  async create(path: string): Promise<ModelSession> {
    await new Promise((r) => setImmediate(r));
    const s = new FakeSession(path);
    this.created.push(s);
    return s;
  }
}

export class FakeLeases implements LeaseStore {
  readonly live = new Set<string>();
  async acquireLease(_d: string, model: string, version: number, worker: string): Promise<boolean> {
    const had = this.live.has(`${model}/${version}@${worker}`);
    this.live.add(`${model}/${version}@${worker}`);
    return had;
  }
  refreshLease(d: string, model: string, version: number, worker: string): Promise<boolean> {
    return this.acquireLease(d, model, version, worker);
  }
  async releaseLease(_d: string, model: string, version: number, worker: string): Promise<boolean> {
    return this.live.delete(`${model}/${version}@${worker}`);
  }
}

export function fakePool(settings: Partial<PoolSettings> = {}) {
  const clock = new FakeClock();
  const source = new FakeSource();
  const sessions = new FakeSessions();
  const leaseStore = new FakeLeases();
  const placed = new Set<string>();
  const placement = {
    mark: async (ref: ModelVersionRef) => void placed.add(`${ref.model}/${ref.version}`),
    unmark: async (ref: ModelVersionRef) => void placed.delete(`${ref.model}/${ref.version}`),
  } as unknown as PlacementRepository;
  const logger = pino({ level: 'silent' });
  const registry = new Registry();
  const metrics = new WorkerMetrics(registry);
  let free = 1;
  const memory = { freeFraction: async () => free };
  const leases = new LeaseKeeper(
    leaseStore,
    placement,
    { domain: 'test', workerId: 'w1', ttlMs: 60_000 },
    logger,
  );
  const pool = new SessionPool({
    source,
    sessions,
    leases,
    memory,
    metrics,
    clock,
    logger,
    settings: {
      maxActiveModels: 8,
      evictBatch: 3,
      pinned: [],
      idleTtlMs: 0,
      memoryFreeThreshold: 0,
      memoryCheckIntervalMs: 1000,
      modelLoadTimeoutMs: 1000,
      batchMaxSize: 8,
      batchMaxDelayMs: 1,
      ...settings,
    },
  });
  return {
    pool,
    clock,
    source,
    sessions,
    leaseStore,
    placed,
    metrics,
    setFreeMemory: (f: number) => (free = f),
    loaded: () =>
      pool
        .list()
        .map((m) => `${m.model}/${m.version}`)
        .sort(),
    evictions: async () =>
      Object.fromEntries(
        (await metrics.evictions.get()).values.map((v) => [
          `${v.labels.model}:${v.labels.reason}`,
          v.value,
        ]),
      ),
  };
}

export const ref = (model: string, version = 1): ModelVersionRef => ({ model, version });

/** Acquires and releases at once: one use of the model. */
export async function use(pool: SessionPool, r: ModelVersionRef): Promise<void> {
  (await pool.acquire(r)).release();
}
