import type { TensorDatatype } from './datatypes';
import { formatShape } from './shape';
import { tensorLabel, TensorError } from './tensor-error';
import type { RequestedOutput } from './types';

/**
 * An input or output as the model declares it. `shape` uses -1 for a dynamic dimension
 * (symbolic ONNX dims map to -1); no shape means any shape.
 */
export interface ModelTensorSpec {
  name: string;
  datatype: TensorDatatype;
  shape?: readonly number[];
}

/** What validation needs of a model: its inputs, in the model's order, and its outputs. */
export interface ModelSignature {
  inputs: readonly ModelTensorSpec[];
  outputs?: readonly Pick<ModelTensorSpec, 'name'>[];
}

/** The header of a tensor, without its data. */
export interface TensorHeader {
  name: string;
  datatype: TensorDatatype;
  shape: readonly number[];
}

function nameList(specs: readonly { name: string }[]): string {
  const shown = specs.slice(0, 16).map((s) => JSON.stringify(s.name));
  if (specs.length > shown.length) shown.push(`… ${specs.length - shown.length} more`);
  return shown.length > 0 ? shown.join(', ') : 'none';
}

/** The shape of `actual` against a model shape with -1 wildcards; a reason, or undefined. */
export function shapeMismatch(
  actual: readonly number[],
  expected: readonly number[] | undefined,
): string | undefined {
  if (expected === undefined) return undefined;
  if (actual.length !== expected.length) {
    return `rank ${expected.length} expected, got ${actual.length}`;
  }
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] >= 0 && expected[i] !== actual[i]) {
      return `dimension ${i} must be ${expected[i]}, got ${actual[i]}`;
    }
  }
  return undefined;
}

/**
 * Checks one input's header against the model: a known name, the declared datatype, a shape
 * matching the model's (-1 matches any size). Returns the spec it matched.
 */
export function checkInputHeader(
  input: TensorHeader,
  specs: readonly ModelTensorSpec[],
): ModelTensorSpec {
  const label = tensorLabel('input', input.name);
  const spec = specs.find((s) => s.name === input.name);
  if (!spec) throw new TensorError(`${label}: unknown input (model inputs: ${nameList(specs)})`);
  if (spec.datatype !== input.datatype) {
    throw new TensorError(`${label}: datatype ${spec.datatype} expected, got ${input.datatype}`);
  }
  const reason = shapeMismatch(input.shape, spec.shape);
  if (reason !== undefined) {
    throw new TensorError(
      `${label}: shape ${formatShape(input.shape)} does not match the model's ${formatShape(spec.shape ?? [])} (${reason})`,
    );
  }
  return spec;
}

/**
 * Checks a request's inputs against the model (each header as checkInputHeader, no name twice,
 * none missing) and returns them in the model's input order.
 */
export function validateInputs<T extends TensorHeader>(
  inputs: readonly T[],
  specs: readonly ModelTensorSpec[],
): T[] {
  const byName = new Map<string, T>();
  for (const input of inputs) {
    if (byName.has(input.name)) {
      throw new TensorError(`${tensorLabel('input', input.name)}: given more than once`);
    }
    checkInputHeader(input, specs);
    byName.set(input.name, input);
  }
  const missing = specs.filter((s) => !byName.has(s.name));
  if (missing.length > 0) {
    throw new TensorError(
      `${tensorLabel('input', missing[0].name)}: missing (model inputs: ${nameList(specs)})`,
    );
  }
  return specs.map((s) => byName.get(s.name) as T);
}

/** Checks requested outputs: known names, none twice. Returns their names in request order. */
export function validateRequestedOutputs(
  outputs: readonly RequestedOutput[] | undefined,
  specs: readonly Pick<ModelTensorSpec, 'name'>[],
): string[] {
  if (outputs === undefined) return specs.map((s) => s.name);
  const known = new Set(specs.map((s) => s.name));
  const seen = new Set<string>();
  for (const output of outputs) {
    const label = tensorLabel('output', output.name);
    if (!known.has(output.name)) {
      throw new TensorError(`${label}: unknown output (model outputs: ${nameList(specs)})`);
    }
    if (seen.has(output.name)) throw new TensorError(`${label}: requested more than once`);
    seen.add(output.name);
  }
  return outputs.map((o) => o.name);
}
