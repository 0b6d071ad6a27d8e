import { LruPolicy } from '../../src/models/lru-policy';

describe('LruPolicy', () => {
  const policy = (maxActive: number) => new LruPolicy({ maxActive, evictBatch: 3 });

  it('has room until loaded + loading reach the limit', () => {
    const p = policy(3);
    p.add('a', 1);
    p.add('b', 2);
    expect(p.victimsForAdmission()).toEqual([]);
    expect(p.victimsForAdmission(1)).toEqual(['a', 'b']);
  });

  it('evicts the 3 least recently used at once when full', () => {
    const p = policy(5);
    ['a', 'b', 'c', 'd', 'e'].forEach((k, i) => p.add(k, 10 + i));
    expect(p.victimsForAdmission()).toEqual(['a', 'b', 'c']);
  });

  it('refreshes a model on use', () => {
    const p = policy(4);
    ['a', 'b', 'c', 'd'].forEach((k, i) => p.add(k, 10 + i));
    p.touch('a', 100);
    p.touch('c', 101);
    expect(p.victimsForAdmission()).toEqual(['b', 'd', 'a']);
    // An older time never moves a model back.
    p.touch('c', 1);
    expect(p.lastUsed('c')).toBe(101);
  });

  it('never picks pinned models, and grows past the limit when only pinned remain', () => {
    const p = policy(3);
    p.add('pinned-1', 1, true);
    p.add('a', 2);
    p.add('pinned-2', 3, true);
    expect(p.victimsForAdmission()).toEqual(['a']);
    p.remove('a');
    p.add('b', 4);
    p.remove('b');
    expect(p.victimsForAdmission(1)).toEqual([]);
    expect(p.leastRecentlyUsed()).toEqual([]);
    expect(p.isPinned('pinned-1')).toBe(true);
  });

  it('reports models idle for longer than the TTL by the clock it is given', () => {
    const p = policy(10);
    p.add('a', 1_000);
    p.add('b', 5_000);
    p.add('pinned', 0, true);
    expect(p.idle(6_000, 4_000)).toEqual(['a']);
    p.touch('a', 6_000);
    expect(p.idle(9_500, 4_000)).toEqual(['b']);
    expect(p.idle(100_000, 4_000)).toEqual(['a', 'b']);
    expect(p.idle(100_000, 0)).toEqual([]);
  });
});
