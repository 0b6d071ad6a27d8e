import {
  hashSecret,
  type ApiKeyService,
  type VerifiedApiKey,
  type VerifyResult,
} from '@strata/api-keys';
import { ModelNotFoundError } from '@strata/model-registry';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ApiKeyAuthService } from '../../src/auth/api-key-auth.service';
import { AuthCache } from '../../src/auth/auth-cache';
import { CacheMetrics } from '../../src/metrics/cache.metrics';
import { RegistryEventsSubscriber } from '../../src/registry/registry-events.subscriber';
import { TtlCache } from '../../src/registry/ttl-cache';

const SECRET = `sk_${'b'.repeat(32)}`;
const HASH = hashSecret(SECRET);
const KEY: VerifiedApiKey = {
  id: 'id-1',
  name: 'k',
  workspace: 'default',
  prefix: 'sk_bbbbbbbb',
  scopes: ['infer'],
  keyHash: HASH,
  rateLimit: null,
  expiresAt: null,
};
const logger = pino({ level: 'silent' });

/** A promise with its resolve/reject, to hold a lookup at a chosen point. */
function gate<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Stands in for ApiKeyService (Postgres): answers what `next` says, counting calls. */
function source(next: () => Promise<VerifyResult>) {
  const calls = { verify: 0 };
  const keys = {
    verify: () => {
      calls.verify += 1;
      return next();
    },
    touch: async () => true,
  } as unknown as ApiKeyService;
  return { keys, calls };
}

async function counter(registry: Registry, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric('strata_cache_requests_total')?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return match?.value ?? 0;
}

describe('AuthCache (process level)', () => {
  it('keeps an expired entry for the stale window only, and never after invalidate', () => {
    let now = 0;
    const cache = new AuthCache(1000, 10, () => now, 5000);
    cache.set('a', { ok: true, key: KEY });
    now = 1000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stale('a')).toEqual({ ok: true, key: KEY });
    now = 5999;
    expect(cache.stale('a')).toBeDefined();
    now = 6000;
    expect(cache.stale('a')).toBeUndefined();

    cache.set('b', { ok: true, key: KEY });
    cache.invalidate('b');
    expect(cache.stale('b')).toBeUndefined();
  });

  it('does not store a lookup that started before an invalidation', () => {
    const cache = new AuthCache(1000);
    const mark = cache.mark();
    cache.invalidate('other');
    cache.set('a', { ok: true, key: KEY }, mark);
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', { ok: true, key: KEY }, cache.mark());
    expect(cache.get('a')).toBeDefined();
  });
});

describe('ApiKeyAuthService without Redis', () => {
  it('a revocation that arrives while Postgres is being asked is not undone', async () => {
    const held = gate<VerifyResult>();
    let answer = () => held.promise;
    const { keys, calls } = source(() => answer());
    const auth = new ApiKeyAuthService(keys, new AuthCache(60_000), logger);
    const pending = auth.authenticate(SECRET);
    // The key was valid when read, then revoked (the event arrives before the answer).
    auth.forget(HASH);
    held.resolve({ ok: true, key: KEY });
    expect((await pending).ok).toBe(true);
    answer = async () => ({ ok: false, reason: 'revoked' });
    expect(await auth.authenticate(SECRET)).toEqual({ ok: false, reason: 'revoked' });
    expect(calls.verify).toBe(2);
  });

  it('serves the stale copy when Postgres fails, counts it, and fails without one', async () => {
    let now = 0;
    let fail = false;
    const { keys } = source(async () => {
      if (fail) throw new Error("Can't reach database server");
      return { ok: true, key: KEY };
    });
    const registry = new Registry();
    const metrics = new CacheMetrics(registry);
    const auth = new ApiKeyAuthService(keys, new AuthCache(1000, 10, () => now, 60_000), logger, {
      metrics,
      now: () => now,
    });
    expect((await auth.authenticate(SECRET)).ok).toBe(true);
    expect((await auth.authenticate(SECRET)).ok).toBe(true);
    fail = true;
    now = 2000;
    expect((await auth.authenticate(SECRET)).ok).toBe(true);
    expect(await counter(registry, { cache: 'auth', level: 'process', result: 'hit' })).toBe(1);
    expect(await counter(registry, { cache: 'auth', level: 'process', result: 'miss' })).toBe(2);
    expect(await counter(registry, { cache: 'auth', level: 'process', result: 'stale' })).toBe(1);
    now = 70_000;
    await expect(auth.authenticate(SECRET)).rejects.toThrow(/database/);
    await expect(auth.authenticate(`sk_${'c'.repeat(32)}`)).rejects.toThrow(/database/);
  });
});

describe('TtlCache (process level of the metadata cache)', () => {
  it('serves an expired value when the reload fails with an outage, not with a definite answer', async () => {
    let now = 0;
    const cache = new TtlCache<string>(1000, 10, () => now, {
      staleMs: 10_000,
      canServeStale: (e) => !(e instanceof ModelNotFoundError),
      retryMs: 500,
    });
    const outcomes: string[] = [];
    const seen = (o: string) => outcomes.push(o);
    expect(await cache.get('k', async () => 'v1', seen)).toBe('v1');
    now = 1000;
    let loads = 0;
    const down = async () => {
      loads += 1;
      throw new Error('connection refused');
    };
    expect(await cache.get('k', down, seen)).toBe('v1');
    // Within the retry interval the stale value answers without asking the source.
    now = 1400;
    expect(await cache.get('k', down, seen)).toBe('v1');
    expect(loads).toBe(1);
    now = 1600;
    expect(await cache.get('k', down, seen)).toBe('v1');
    expect(loads).toBe(2);
    expect(outcomes).toEqual(['miss', 'miss', 'stale', 'hit', 'miss', 'stale']);

    now = 2200;
    await expect(
      cache.get('k', async () => {
        throw new ModelNotFoundError('m');
      }),
    ).rejects.toThrow(ModelNotFoundError);
    // A definite answer dropped the entry: no stale copy is left to serve.
    now = 2300;
    await expect(cache.get('k', down)).rejects.toThrow('connection refused');
  });

  it('never stores a load that was under way when its key was invalidated', async () => {
    const cache = new TtlCache<string>(60_000, 10);
    const held = gate<string>();
    const first = cache.get('k', () => held.promise);
    cache.deleteWhere((k) => k === 'k');
    held.resolve('old');
    expect(await first).toBe('old');
    expect(await cache.get('k', async () => 'new')).toBe('new');
  });

  it('serves no stale value after an invalidation, even if the reload fails', async () => {
    let now = 0;
    const cache = new TtlCache<string>(1000, 10, () => now, { staleMs: 10_000 });
    await cache.get('k', async () => 'v1');
    now = 1500;
    const held = gate<string>();
    const reload = cache.get('k', () => held.promise);
    cache.clear();
    held.reject(new Error('connection refused'));
    await expect(reload).rejects.toThrow('connection refused');
  });

  it('shares one load between concurrent lookups', async () => {
    const cache = new TtlCache<number>(60_000, 10);
    let loads = 0;
    const load = async () => ++loads;
    const all = await Promise.all([cache.get('k', load), cache.get('k', load)]);
    expect(all).toEqual([1, 1]);
  });
});

describe('RegistryEventsSubscriber.handle', () => {
  function subscriber() {
    const calls: string[] = [];
    const targets = {
      metadata: { invalidate: (m?: string) => void calls.push(`meta:${m ?? '*'}`) },
      auth: {
        forget: (h: string) => void calls.push(`key:${h.slice(0, 4)}`),
        forgetAll: () => void calls.push('key:*'),
      },
    };
    const sub = new RegistryEventsSubscriber({} as never, 'ch', targets as never, logger);
    return { sub, calls };
  }

  it('routes registry events to the metadata cache and key-revoked to the auth cache', () => {
    const { sub, calls } = subscriber();
    sub.handle(JSON.stringify({ type: 'alias-moved', model: 'm', alias: 'p', version: 2 }));
    sub.handle(JSON.stringify({ type: 'model-deleted', model: 'n', versions: [1] }));
    sub.handle(JSON.stringify({ type: 'key-revoked', keyHash: HASH }));
    expect(calls).toEqual(['meta:m', 'meta:n', `key:${HASH.slice(0, 4)}`]);
  });

  it('ignores worker commands, unknown types and garbage', () => {
    const { sub, calls } = subscriber();
    for (const message of [
      JSON.stringify({ type: 'unload', model: 'm' }),
      JSON.stringify({ type: 'clear' }),
      JSON.stringify({ type: 'key-rotated', keyHash: HASH }),
      JSON.stringify({ type: 'key-revoked', keyHash: 'not-a-hash' }),
      JSON.stringify({ type: 'workflow-published', workflow: 'w' }),
      'not json',
      'null',
    ]) {
      sub.handle(message);
    }
    expect(calls).toEqual([]);
  });
});
