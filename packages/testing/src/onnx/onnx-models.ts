import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  encodeModel,
  ONNX_ELEMENT_TYPE,
  type OnnxDatatype,
  type OnnxDim,
  type OnnxModel,
} from './onnx-proto';

/** Fields every builder accepts to vary the file without changing what the model computes. */
export interface ModelFileOptions {
  /** Written as ModelProto.doc_string: two files of the same model with different docs differ. */
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
  opset?: number;
}

function fileFields(options: ModelFileOptions): Partial<OnnxModel> {
  return { docString: options.docString, metadata: options.metadata, opset: options.opset };
}

export interface IdentityModelOptions extends ModelFileOptions {
  datatype: OnnxDatatype;
  /** e.g. `['batch', 3]`; `'batch'` names a symbolic dimension, -1 an unnamed dynamic one. */
  shape: readonly OnnxDim[];
  /** Input name; default `input`. */
  name?: string;
  /** Output name; default `output`. */
  outputName?: string;
}

/**
 * `output = Identity(input)` for any datatype: ONNX Runtime's CPU Identity kernel takes every
 * standard tensor type, BYTES (ONNX string) included.
 */
export function buildIdentityModel(options: IdentityModelOptions): Buffer {
  const input = options.name ?? 'input';
  const output = options.outputName ?? 'output';
  return encodeModel({
    ...fileFields(options),
    graph: {
      name: `identity_${options.datatype.toLowerCase()}`,
      nodes: [{ opType: 'Identity', inputs: [input], outputs: [output] }],
      inputs: [{ name: input, datatype: options.datatype, shape: options.shape }],
      outputs: [{ name: output, datatype: options.datatype, shape: options.shape }],
    },
  });
}

export interface AddModelOptions extends ModelFileOptions {
  /** Default `['batch', 3]`. */
  shape?: readonly OnnxDim[];
  /** A scalar, or one value per element of the last dimension (broadcast); default 1. */
  addend?: number | readonly number[];
  /** Default `x` and `y`. */
  inputName?: string;
  outputName?: string;
}

/** FP32 `y = x + addend`, dynamic batch by default. */
export function buildAddModel(options: AddModelOptions = {}): Buffer {
  const shape = options.shape ?? ['batch', 3];
  const addend = options.addend ?? 1;
  const values = typeof addend === 'number' ? [addend] : [...addend];
  const x = options.inputName ?? 'x';
  const y = options.outputName ?? 'y';
  return encodeModel({
    ...fileFields(options),
    graph: {
      name: 'add',
      nodes: [{ opType: 'Add', inputs: [x, 'addend'], outputs: [y] }],
      inputs: [{ name: x, datatype: 'FP32', shape }],
      outputs: [{ name: y, datatype: 'FP32', shape }],
      initializers: [
        {
          name: 'addend',
          datatype: 'FP32',
          dims: typeof addend === 'number' ? [] : [values.length],
          raw: Buffer.from(new Float32Array(values).buffer),
        },
      ],
    },
  });
}

export interface CastModelOptions extends ModelFileOptions {
  from: OnnxDatatype;
  to: OnnxDatatype;
  /** Default `['batch']`. */
  shape?: readonly OnnxDim[];
  /** Default `input` and `output`. */
  inputName?: string;
  outputName?: string;
}

/** `output = Cast(input, to)`. */
export function buildCastModel(options: CastModelOptions): Buffer {
  const shape = options.shape ?? ['batch'];
  const input = options.inputName ?? 'input';
  const output = options.outputName ?? 'output';
  return encodeModel({
    ...fileFields(options),
    graph: {
      name: `cast_${options.from.toLowerCase()}_to_${options.to.toLowerCase()}`,
      nodes: [
        {
          opType: 'Cast',
          inputs: [input],
          outputs: [output],
          attributes: { to: { type: 'int', value: ONNX_ELEMENT_TYPE[options.to] } },
        },
      ],
      inputs: [{ name: input, datatype: options.from, shape }],
      outputs: [{ name: output, datatype: options.to, shape }],
    },
  });
}

/**
 * Two inputs, two outputs, two datatypes, dynamic batch:
 * `a` FP32 [batch, 3] → `doubled` = a + a; `b` INT64 [batch, 2] → `negated` = -b.
 */
export function buildTwoInTwoOutModel(options: ModelFileOptions = {}): Buffer {
  return encodeModel({
    ...fileFields(options),
    graph: {
      name: 'two_in_two_out',
      nodes: [
        { opType: 'Add', inputs: ['a', 'a'], outputs: ['doubled'] },
        { opType: 'Neg', inputs: ['b'], outputs: ['negated'] },
      ],
      inputs: [
        { name: 'a', datatype: 'FP32', shape: ['batch', 3] },
        { name: 'b', datatype: 'INT64', shape: ['batch', 2] },
      ],
      outputs: [
        { name: 'doubled', datatype: 'FP32', shape: ['batch', 3] },
        { name: 'negated', datatype: 'INT64', shape: ['batch', 2] },
      ],
    },
  });
}

export interface LargeModelOptions extends ModelFileOptions {
  /** Size of the initializer; the file is this plus a few hundred bytes. */
  bytes: number;
  /** Pseudo-random (default; incompressible, reproducible per seed) or zeros. */
  fill?: 'random' | 'zeros';
  seed?: number;
}

/** Deterministic incompressible bytes (xorshift32). */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 0x9e3779b9;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out.writeUInt32LE(state, i);
  }
  for (; i < length; i++) out[i] = (i * 131 + seed) & 0xff;
  return out;
}

/**
 * A model made big by an initializer `padding` (UINT8 [bytes]): `y = Identity(x)` for `x`
 * FP32 [batch, 4], and `padding_size` = Shape(padding), INT64 [1], which proves the whole
 * initializer was read.
 */
export function buildLargeModel(options: LargeModelOptions): Buffer {
  const { bytes } = options;
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > 2 ** 31 - 4096) {
    throw new RangeError(`bytes must be an integer from 0 to under 2 GiB (protobuf's limit)`);
  }
  const padding =
    options.fill === 'zeros' ? Buffer.alloc(bytes) : pseudoRandomBytes(bytes, options.seed ?? 1);
  return encodeModel({
    ...fileFields(options),
    graph: {
      name: 'large',
      nodes: [
        { opType: 'Identity', inputs: ['x'], outputs: ['y'] },
        { opType: 'Shape', inputs: ['padding'], outputs: ['padding_size'] },
      ],
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch', 4] }],
      outputs: [
        { name: 'y', datatype: 'FP32', shape: ['batch', 4] },
        { name: 'padding_size', datatype: 'INT64', shape: [1] },
      ],
      initializers: [{ name: 'padding', datatype: 'UINT8', dims: [bytes], raw: padding }],
    },
  });
}

/** Writes model bytes to `file`, creating its directory. Resolves to the absolute path. */
export async function writeModel(file: string, bytes: Uint8Array): Promise<string> {
  const absolute = path.resolve(file);
  await mkdir(path.dirname(absolute), { recursive: true });
  await writeFile(absolute, bytes);
  return absolute;
}
