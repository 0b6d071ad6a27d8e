import { fakePool, ref, use } from '../support/fake-pool';

// Eviction closes sessions in the background (after their requests finish); let it run.
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('SessionPool (LRU of sessions)', () => {
  it('evicts the 3 least recently used when full; every use refreshes', async () => {
    const f = fakePool({ maxActiveModels: 4 });
    for (const m of ['a', 'b', 'c', 'd']) {
      await use(f.pool, ref(m));
      f.clock.advance(1000);
    }
    await use(f.pool, ref('a'));
    f.clock.advance(1000);
    await use(f.pool, ref('e'));
    await settle();
    expect(f.loaded()).toEqual(['a/1', 'e/1']);
    expect(await f.evictions()).toEqual({ 'b:lru': 1, 'c:lru': 1, 'd:lru': 1 });
    expect(f.sessions.created.filter((s) => s.released).map((s) => s.path)).toEqual([
      '/nonexistent/b/1/weights.onnx',
      '/nonexistent/c/1/weights.onnx',
      '/nonexistent/d/1/weights.onnx',
    ]);
    // Leases and placement follow the loaded set; the loader hears about each unloaded version.
    expect([...f.leaseStore.live].sort()).toEqual(['a/1@w1', 'e/1@w1']);
    expect([...f.placed].sort()).toEqual(['a/1', 'e/1']);
    expect(f.source.released.sort()).toEqual(['b/1', 'c/1', 'd/1']);
  });

  it('never evicts pinned models', async () => {
    const f = fakePool({ maxActiveModels: 2, pinned: [ref('p')] });
    await f.pool.ensureLoaded(ref('p'));
    f.clock.advance(10);
    await use(f.pool, ref('a'));
    f.clock.advance(10);
    await use(f.pool, ref('b'));
    await settle();
    expect(f.loaded()).toEqual(['b/1', 'p/1']);
    expect(await f.pool.clear()).toBe(1);
    await settle();
    expect(f.loaded()).toEqual(['p/1']);
    expect(f.pool.list()[0].pinned).toBe(true);
  });

  it('unloads models idle for longer than MODEL_IDLE_TTL (injected clock)', async () => {
    const f = fakePool({ idleTtlMs: 60_000 });
    await use(f.pool, ref('a'));
    await use(f.pool, ref('b'));
    f.clock.advance(50_000);
    await use(f.pool, ref('b'));
    f.clock.advance(20_000);
    expect(await f.pool.sweepIdle()).toEqual(['a/1']);
    expect(f.loaded()).toEqual(['b/1']);
    f.clock.advance(60_001);
    expect(await f.pool.sweepIdle()).toEqual(['b/1']);
    expect(await f.evictions()).toEqual({ 'a:idle': 1, 'b:idle': 1 });
  });

  it('evicts least recently used models one per check while memory is short', async () => {
    const f = fakePool({ memoryFreeThreshold: 0.2 });
    for (const m of ['a', 'b', 'c']) {
      await use(f.pool, ref(m));
      f.clock.advance(1);
    }
    await f.pool.checkMemory();
    expect(f.loaded()).toEqual(['a/1', 'b/1', 'c/1']);
    f.setFreeMemory(0.1);
    await f.pool.checkMemory();
    expect(f.loaded()).toEqual(['b/1', 'c/1']);
    await f.pool.checkMemory();
    expect(f.loaded()).toEqual(['c/1']);
    expect(await f.evictions()).toEqual({ 'a:memory': 1, 'b:memory': 1 });
  });

  it('loads a cold model once for many concurrent requests', async () => {
    const f = fakePool();
    f.source.delayMs = 20;
    const leases = await Promise.all(Array.from({ length: 50 }, () => f.pool.acquire(ref('cold'))));
    expect(f.source.ensured).toEqual(['cold/1']);
    expect(f.sessions.created).toHaveLength(1);
    expect(new Set(leases.map((l) => l.model)).size).toBe(1);
    leases.forEach((l) => l.release());
  });

  it('closes an evicted session only after the requests using it are done', async () => {
    const f = fakePool();
    const lease = await f.pool.acquire(ref('a'));
    const unloaded = f.pool.unload('a');
    await settle();
    expect(f.loaded()).toEqual([]);
    expect(f.sessions.created[0].released).toBe(false);
    lease.release();
    await unloaded;
    expect(f.sessions.created[0].released).toBe(true);
    expect(await f.evictions()).toEqual({ 'a:manual': 1 });
  });

  it('does not keep a failed load: the error reaches every waiter and the next request retries', async () => {
    const f = fakePool();
    f.source.known.add('other/1');
    const results = await Promise.allSettled([
      f.pool.acquire(ref('missing')),
      f.pool.acquire(ref('missing')),
    ]);
    expect(results.map((r) => r.status === 'rejected' && r.reason.code)).toEqual([
      'NOT_FOUND',
      'NOT_FOUND',
    ]);
    expect(f.source.ensured).toEqual(['missing/1']);
    expect(f.leaseStore.live.size).toBe(0);
    await expect(f.pool.acquire(ref('missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(f.source.ensured).toEqual(['missing/1', 'missing/1']);
  });
});
