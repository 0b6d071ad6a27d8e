/**
 * The `batching` section of a model's `environment.json`:
 *
 * ```json
 * {
 *   "batching": {
 *     "enabled": true,
 *     "maxSize": 16,
 *     "maxDelayMs": 2,
 *     "axes": {
 *       "inputs": { "input": 0, "state": 1, "sr": null },
 *       "outputs": { "output": 0, "stateN": 1 }
 *     }
 *   }
 * }
 * ```
 *
 * Every field is optional. `enabled: false` turns batching off for the model. `maxSize` and
 * `maxDelayMs` override BATCH_MAX_SIZE and BATCH_MAX_DELAY_MS. `axes` names the batch axis of an
 * input or output (0-based); `null` says it has none (an input without one must be byte-identical
 * across the requests batched together; an output without one cannot be split, so requests that
 * ask for it run alone). Names not listed get the first dynamic axis of the session metadata.
 */
export interface BatchingConfig {
  readonly enabled?: boolean;
  readonly maxSize?: number;
  readonly maxDelayMs?: number;
  readonly inputs: ReadonlyMap<string, number | null>;
  readonly outputs: ReadonlyMap<string, number | null>;
}

export class BatchConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`environment.json "batching" is invalid: ${problems.join('; ')}`);
    this.name = 'BatchConfigError';
  }
}

export const NO_BATCHING_CONFIG: BatchingConfig = Object.freeze({
  inputs: new Map<string, number | null>(),
  outputs: new Map<string, number | null>(),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const KNOWN_KEYS = new Set(['enabled', 'maxSize', 'maxDelayMs', 'axes']);

function readAxes(value: unknown, where: string, problems: string[]): Map<string, number | null> {
  const out = new Map<string, number | null>();
  if (value === undefined) return out;
  if (!isObject(value)) {
    problems.push(`${where} must be an object of name → axis`);
    return out;
  }
  for (const [name, axis] of Object.entries(value)) {
    if (axis === null || (typeof axis === 'number' && Number.isInteger(axis) && axis >= 0)) {
      out.set(name, axis);
    } else {
      problems.push(`${where}.${name} must be a non-negative integer or null`);
    }
  }
  return out;
}

/**
 * Reads the `batching` section of a parsed environment.json (anything else in the file belongs
 * to pre- and post-processing and is ignored). No section: {@link NO_BATCHING_CONFIG}.
 */
export function parseBatchingConfig(environment: unknown): BatchingConfig {
  if (environment === undefined || environment === null) return NO_BATCHING_CONFIG;
  if (!isObject(environment)) throw new BatchConfigError(['environment.json is not an object']);
  const section = environment.batching;
  if (section === undefined) return NO_BATCHING_CONFIG;
  if (!isObject(section)) throw new BatchConfigError(['"batching" must be an object']);
  const problems: string[] = [];
  for (const key of Object.keys(section)) {
    if (!KNOWN_KEYS.has(key)) problems.push(`unknown key "${key}"`);
  }
  const { enabled, maxSize, maxDelayMs, axes } = section;
  if (enabled !== undefined && typeof enabled !== 'boolean')
    problems.push('enabled must be a boolean');
  if (maxSize !== undefined && !(Number.isInteger(maxSize) && (maxSize as number) >= 1)) {
    problems.push('maxSize must be an integer ≥ 1');
  }
  if (maxDelayMs !== undefined && !(Number.isInteger(maxDelayMs) && (maxDelayMs as number) >= 0)) {
    problems.push('maxDelayMs must be an integer ≥ 0');
  }
  let inputs = new Map<string, number | null>();
  let outputs = new Map<string, number | null>();
  if (axes !== undefined) {
    if (!isObject(axes)) {
      problems.push('axes must be an object with "inputs" and/or "outputs"');
    } else {
      for (const key of Object.keys(axes)) {
        if (key !== 'inputs' && key !== 'outputs') problems.push(`unknown key "axes.${key}"`);
      }
      inputs = readAxes(axes.inputs, 'axes.inputs', problems);
      outputs = readAxes(axes.outputs, 'axes.outputs', problems);
    }
  }
  if (problems.length > 0) throw new BatchConfigError(problems);
  return {
    ...(enabled === undefined ? {} : { enabled: enabled as boolean }),
    ...(maxSize === undefined ? {} : { maxSize: maxSize as number }),
    ...(maxDelayMs === undefined ? {} : { maxDelayMs: maxDelayMs as number }),
    inputs,
    outputs,
  };
}
