import type { TensorInfo } from '../ort/model-session';
import { BatchConfigError, type BatchingConfig } from './batch-config';

/** The batch axis of every input and output of a model; undefined where there is none. */
export interface BatchAxes {
  readonly inputs: ReadonlyMap<string, number | undefined>;
  readonly outputs: ReadonlyMap<string, number | undefined>;
}

/** How a model batches, decided once when it is loaded. */
export interface BatchingPlan {
  /** False: every request runs alone. */
  readonly enabled: boolean;
  readonly maxSize: number;
  readonly maxDelayMs: number;
  readonly axes: BatchAxes;
  /** Why batching is off, for the load log line. */
  readonly reason?: string;
}

function dynamicAxes(dims: readonly (number | string)[]): number[] {
  const out: number[] = [];
  dims.forEach((d, i) => {
    if (typeof d === 'string' || d < 0) out.push(i);
  });
  return out;
}

/** An input's batch axis from metadata: its first dynamic axis. */
export function inferInputAxis(info: TensorInfo): number | undefined {
  if (!info.dims) return undefined;
  return dynamicAxes(info.dims)[0];
}

/**
 * An output's batch axis from metadata: its first dynamic axis, when that is unambiguous — the
 * only dynamic axis, or one with a symbolic name. Several unnamed dynamic axes (Silero's
 * `stateN` is `["","",""]`) could be any of them, and guessing wrong would hand one request
 * another's results, so such an output has none unless environment.json declares it.
 */
export function inferOutputAxis(info: TensorInfo): number | undefined {
  if (!info.dims) return undefined;
  const dynamic = dynamicAxes(info.dims);
  if (dynamic.length === 0) return undefined;
  if (dynamic.length === 1) return dynamic[0];
  const first = info.dims[dynamic[0]];
  return typeof first === 'string' && first.length > 0 ? dynamic[0] : undefined;
}

function checkDeclared(
  kind: 'inputs' | 'outputs',
  declared: ReadonlyMap<string, number | null>,
  infos: readonly TensorInfo[],
  problems: string[],
): void {
  const byName = new Map(infos.map((i) => [i.name, i]));
  for (const [name, axis] of declared) {
    const info = byName.get(name);
    if (!info) {
      problems.push(`axes.${kind}.${name}: the model has no such ${kind.slice(0, -1)}`);
      continue;
    }
    if (axis === null || !info.dims) continue;
    if (axis >= info.dims.length) {
      problems.push(`axes.${kind}.${name}: axis ${axis} but rank ${info.dims.length}`);
    } else if (typeof info.dims[axis] === 'number' && (info.dims[axis] as number) >= 0) {
      problems.push(`axes.${kind}.${name}: axis ${axis} has fixed size ${info.dims[axis]}`);
    }
  }
}

/** Batch axes: declared ones first, then metadata. Throws BatchConfigError on a bad declaration. */
export function resolveBatchAxes(
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  config: BatchingConfig,
): BatchAxes {
  const problems: string[] = [];
  checkDeclared('inputs', config.inputs, inputs, problems);
  checkDeclared('outputs', config.outputs, outputs, problems);
  if (problems.length > 0) throw new BatchConfigError(problems);
  const pick = (declared: number | null | undefined, inferred: () => number | undefined) =>
    declared === null ? undefined : (declared ?? inferred());
  return {
    inputs: new Map(
      inputs.map((i) => [i.name, pick(config.inputs.get(i.name), () => inferInputAxis(i))]),
    ),
    outputs: new Map(
      outputs.map((o) => [o.name, pick(config.outputs.get(o.name), () => inferOutputAxis(o))]),
    ),
  };
}

/** The batching plan of a model from its metadata, its environment.json section and the defaults. */
export function planBatching(
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  config: BatchingConfig,
  defaults: { maxSize: number; maxDelayMs: number },
): BatchingPlan {
  const maxSize = config.maxSize ?? defaults.maxSize;
  const maxDelayMs = config.maxDelayMs ?? defaults.maxDelayMs;
  const axes = resolveBatchAxes(inputs, outputs, config);
  const off = (reason: string): BatchingPlan => ({
    enabled: false,
    maxSize,
    maxDelayMs,
    axes,
    reason,
  });
  if (config.enabled === false) return off('disabled in environment.json');
  if (maxSize <= 1) return off('batch size 1');
  if (![...axes.inputs.values()].some((a) => a !== undefined))
    return off('no input has a batch axis');
  if (![...axes.outputs.values()].some((a) => a !== undefined))
    return off('no output has a batch axis');
  return { enabled: true, maxSize, maxDelayMs, axes };
}
