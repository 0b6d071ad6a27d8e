import { createHash } from 'node:crypto';
import type { RawTensor } from '@strata/tensors';
import type { BatchingPlan } from './batch-axes';

/** Where one request may go: a batch group (by key) with `count` items, or alone. */
export type RequestPlacement =
  | { readonly batched: true; readonly key: string; readonly count: number }
  | { readonly batched: false; readonly reason: string };

// Inputs without a batch axis are compared by their bytes; small ones go into the key as they
// are, large ones by digest (a collision would need a sha256 collision).
const INLINE_BYTES = 64;

function fingerprint(data: Buffer): string {
  return data.byteLength <= INLINE_BYTES
    ? `x${data.toString('hex')}`
    : `h${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * The batch group of a validated request. Requests share a group when they can be concatenated
 * along the batch axes and split back: same requested outputs, same datatypes, same shapes
 * except along the batch axis, byte-identical inputs that have no batch axis (Silero's `sr`),
 * and every requested output has a batch axis. The item count is the size along the batch axis,
 * which must agree across the request's inputs.
 */
export function placeRequest(
  plan: BatchingPlan,
  inputs: readonly RawTensor[],
  outputs: readonly string[],
): RequestPlacement {
  if (!plan.enabled) return { batched: false, reason: plan.reason ?? 'batching off' };
  for (const name of outputs) {
    if (plan.axes.outputs.get(name) === undefined) {
      return { batched: false, reason: `output "${name}" has no batch axis` };
    }
  }
  let count: number | undefined;
  const parts: string[] = [[...outputs].sort().join(',')];
  for (const input of inputs) {
    const axis = plan.axes.inputs.get(input.name);
    if (axis === undefined) {
      parts.push(
        `${input.name}|${input.datatype}|${input.shape.join('x')}|${fingerprint(input.data)}`,
      );
      continue;
    }
    if (axis >= input.shape.length) {
      return { batched: false, reason: `input "${input.name}" has no axis ${axis}` };
    }
    if (axis > 0 && input.datatype === 'BYTES') {
      return {
        batched: false,
        reason: `BYTES input "${input.name}" batches on its first axis only`,
      };
    }
    const n = input.shape[axis];
    if (count === undefined) count = n;
    else if (count !== n) {
      return { batched: false, reason: 'inputs disagree on the batch size' };
    }
    const rest = input.shape.map((d, i) => (i === axis ? '*' : String(d))).join('x');
    parts.push(`${input.name}|${input.datatype}|${rest}`);
  }
  if (count === undefined) return { batched: false, reason: 'no input has a batch axis' };
  if (count < 1) return { batched: false, reason: 'empty batch' };
  if (count > plan.maxSize) return { batched: false, reason: 'larger than a batch' };
  return { batched: true, key: parts.join('\n'), count };
}
