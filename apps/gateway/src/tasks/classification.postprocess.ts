/** One class of a classification answer. */
export interface ClassPrediction {
  class: string;
  class_id: number;
  confidence: number;
}

export interface ClassificationOptions {
  classNames?: readonly string[];
  softmax: boolean | 'auto';
  /** Most predictions returned (highest first). */
  topK: number;
  /** Predictions below this are dropped (the top one is still reported as `top`). */
  confidence: number;
}

export interface ClassificationResult {
  predictions: ClassPrediction[];
  top: string;
  confidence: number;
}

/** Numerically stable softmax. */
export function softmax(values: ArrayLike<number>): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  const exps = Array.from(values, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Scores that already are a distribution: all in [0, 1], summing to 1 (± 1e-3). */
export function isDistribution(values: ArrayLike<number>): boolean {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 1)) return false;
    sum += v;
  }
  return Math.abs(sum - 1) <= 1e-3;
}

/**
 * The scores of one image (`[nc]`, or the first row of `[1, nc]`) as ranked classes: softmax
 * when configured (or, with `auto`, when the scores are not a distribution), then top-k above
 * the confidence threshold. Classes without a name are named by their index. Pure.
 */
export function classify(
  scores: ArrayLike<number>,
  options: ClassificationOptions,
): ClassificationResult {
  const n = scores.length;
  const probabilities =
    options.softmax === true || (options.softmax === 'auto' && !isDistribution(scores))
      ? softmax(scores)
      : Array.from(scores);
  const name = (i: number) => options.classNames?.[i] || String(i);
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => probabilities[b] - probabilities[a] || a - b,
  );
  const best = order[0];
  return {
    predictions: order
      .filter((i) => probabilities[i] >= options.confidence)
      .slice(0, options.topK)
      .map((i) => ({ class: name(i), class_id: i, confidence: probabilities[i] })),
    top: best === undefined ? '' : name(best),
    confidence: best === undefined ? 0 : probabilities[best],
  };
}
