import { classify, isDistribution, softmax } from '../../src/tasks/classification.postprocess';

describe('classification postprocessing', () => {
  it('softmax is stable and sums to 1', () => {
    const p = softmax([1000, 1001, 1002]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    expect(p[2]).toBeGreaterThan(p[1]);
  });

  it('recognises distributions', () => {
    expect(isDistribution([0.2, 0.8])).toBe(true);
    expect(isDistribution([2, -1])).toBe(false);
    expect(isDistribution([0.2, 0.2])).toBe(false);
  });

  it('ranks classes with names, top-k and threshold', () => {
    const r = classify([0.1, 0.7, 0.2], {
      classNames: ['a', 'b', 'c'],
      softmax: 'auto',
      topK: 2,
      confidence: 0,
    });
    expect(r.top).toBe('b');
    expect(r.confidence).toBeCloseTo(0.7);
    expect(r.predictions.map((p) => [p.class, p.class_id])).toEqual([
      ['b', 1],
      ['c', 2],
    ]);
    const above = classify([0.1, 0.7, 0.2], { softmax: false, topK: 5, confidence: 0.5 });
    expect(above.predictions.map((p) => p.class)).toEqual(['1']);
  });

  it('applies softmax to logits with auto, or when told', () => {
    const r = classify([2, 0], { softmax: 'auto', topK: 2, confidence: 0 });
    expect(r.confidence).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1));
    const forced = classify([0.5, 0.5], { softmax: true, topK: 2, confidence: 0 });
    expect(forced.confidence).toBeCloseTo(0.5);
  });
});
