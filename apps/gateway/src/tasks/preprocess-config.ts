import type { TensorSpec } from '@strata/model-registry';
import { BadRequestError } from '../http/http-errors';

export const RESIZE_MODES = ['stretch', 'letterbox', 'fit-pad'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
export type ChannelOrder = 'RGB' | 'BGR';
export type Triple = readonly [number, number, number];

/**
 * How an image becomes the model's input tensor: the `preprocessing` section of environment.json
 * (see the gateway README for the format), with defaults and the model's input filled in.
 */
export interface PreprocessConfig {
  /** The model input that receives the image (FP32, NCHW, 3 channels). */
  input: string;
  /** Target size; from the input's fixed H and W when environment.json gives none. */
  size?: { width: number; height: number };
  resize: ResizeMode;
  /** Pixel value (0–255, per channel R, G, B) of padded areas. */
  padColor: Triple;
  /** Each pixel value (0–255) is multiplied by this first. */
  scale: number;
  /** Then `(v - mean[c]) / std[c]`, in the model's channel order. */
  mean: Triple;
  std: Triple;
  channelOrder: ChannelOrder;
  layout: 'NCHW';
}

export type ResolvedPreprocessConfig = PreprocessConfig & {
  size: { width: number; height: number };
};

export interface PostprocessConfig {
  /** The output to read; default the model's first. */
  output?: string;
  /** Classification: apply softmax (true), never (false), or when the scores are not probabilities. */
  softmax: boolean | 'auto';
  /** Detection output layout: YOLOv8 `[1, 4+nc, anchors]`, YOLOv5 `[1, anchors, 5+nc]`, or guessed. */
  format: 'auto' | 'yolov8' | 'yolov5';
  /** Detection box units: pixels of the model input, or fractions of it. */
  boxes: 'pixels' | 'normalized';
}

const PRE_KEYS = new Set([
  'input',
  'size',
  'resize',
  'padColor',
  'scale',
  'mean',
  'std',
  'channelOrder',
  'layout',
]);
const POST_KEYS = new Set(['output', 'softmax', 'format', 'boxes']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(problem: string): never {
  throw new BadRequestError(`environment.json: ${problem}`);
}

function triple(
  value: unknown,
  field: string,
  fallback: Triple,
  check: (n: number) => boolean,
): Triple {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && check(value)) return [value, value, value];
  if (
    Array.isArray(value) &&
    value.length === 3 &&
    value.every((n) => typeof n === 'number' && check(n))
  ) {
    return [value[0], value[1], value[2]];
  }
  return fail(`preprocessing.${field} must be a number or three numbers`);
}

function pickInput(name: unknown, inputs: readonly TensorSpec[]): TensorSpec {
  if (name !== undefined) {
    if (typeof name !== 'string') fail('preprocessing.input must be an input name');
    const found = inputs.find((i) => i.name === name);
    if (!found) fail(`preprocessing.input "${name}" is not an input of the model`);
    return found;
  }
  const images = inputs.filter(
    (i) => i.datatype === 'FP32' && i.shape.length === 4 && (i.shape[1] === 3 || i.shape[1] === -1),
  );
  if (inputs.length === 1) return inputs[0];
  if (images.length === 1) return images[0];
  return fail('the model has several inputs; preprocessing.input must name the image input');
}

/** The `preprocessing` section, checked against the model's inputs. */
export function readPreprocessing(
  environment: Record<string, unknown>,
  inputs: readonly TensorSpec[],
): PreprocessConfig {
  const section = environment.preprocessing ?? {};
  if (!isObject(section)) fail('preprocessing must be an object');
  for (const key of Object.keys(section)) {
    if (!PRE_KEYS.has(key)) fail(`unknown key preprocessing.${key}`);
  }
  const input = pickInput(section.input, inputs);
  if (input.datatype !== 'FP32') {
    fail(`input "${input.name}" is ${input.datatype}; images go to FP32 inputs only`);
  }
  if (input.shape.length !== 4 || (input.shape[1] !== 3 && input.shape[1] !== -1)) {
    fail(
      `input "${input.name}" has shape [${input.shape.join(', ')}]; an image input is NCHW with 3 channels`,
    );
  }
  if (section.layout !== undefined && section.layout !== 'NCHW') {
    fail('preprocessing.layout must be "NCHW" (the only layout supported)');
  }
  const resize = section.resize ?? 'stretch';
  if (!(RESIZE_MODES as readonly unknown[]).includes(resize)) {
    fail(`preprocessing.resize must be one of ${RESIZE_MODES.join(', ')}`);
  }
  const order = section.channelOrder ?? 'RGB';
  if (order !== 'RGB' && order !== 'BGR') fail('preprocessing.channelOrder must be "RGB" or "BGR"');
  const scale = section.scale ?? 1 / 255;
  if (typeof scale !== 'number' || !Number.isFinite(scale))
    fail('preprocessing.scale must be a number');

  let size: PreprocessConfig['size'];
  if (section.size !== undefined) {
    const s = section.size;
    const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 8192;
    if (!isObject(s) || !ok(s.width) || !ok(s.height)) {
      fail('preprocessing.size must be {"width": W, "height": H} with integers 1–8192');
    }
    const [, , h, w] = input.shape;
    if ((h > 0 && h !== s.height) || (w > 0 && w !== s.width)) {
      fail(
        `preprocessing.size ${s.width}x${s.height} does not fit input "${input.name}" [${input.shape.join(', ')}]`,
      );
    }
    size = { width: s.width as number, height: s.height as number };
  } else if (input.shape[2] > 0 && input.shape[3] > 0) {
    size = { width: input.shape[3], height: input.shape[2] };
  }

  const finite = (n: number) => Number.isFinite(n);
  const std = triple(section.std, 'std', [1, 1, 1], (n) => Number.isFinite(n) && n !== 0);
  return {
    input: input.name,
    ...(size && { size }),
    resize: resize as ResizeMode,
    padColor: triple(
      section.padColor,
      'padColor',
      resize === 'letterbox' ? [114, 114, 114] : [0, 0, 0],
      (n) => n >= 0 && n <= 255,
    ),
    scale,
    mean: triple(section.mean, 'mean', [0, 0, 0], finite),
    std,
    channelOrder: order,
    layout: 'NCHW',
  };
}

/** readPreprocessing, and a target size is required. */
export function resolvePreprocessing(
  environment: Record<string, unknown>,
  inputs: readonly TensorSpec[],
): ResolvedPreprocessConfig {
  const config = readPreprocessing(environment, inputs);
  if (!config.size) {
    fail(
      `input "${config.input}" has dynamic height or width; preprocessing.size must give the target size`,
    );
  }
  return config as ResolvedPreprocessConfig;
}

/** The `postprocessing` section. */
export function readPostprocessing(
  environment: Record<string, unknown>,
  outputs: readonly TensorSpec[],
): PostprocessConfig & { output: string } {
  const section = environment.postprocessing ?? {};
  if (!isObject(section)) fail('postprocessing must be an object');
  for (const key of Object.keys(section)) {
    if (!POST_KEYS.has(key)) fail(`unknown key postprocessing.${key}`);
  }
  const output = section.output ?? outputs[0]?.name;
  if (typeof output !== 'string' || !outputs.some((o) => o.name === output)) {
    fail(`postprocessing.output must name an output of the model`);
  }
  const softmax = section.softmax ?? 'auto';
  if (softmax !== 'auto' && typeof softmax !== 'boolean') {
    fail('postprocessing.softmax must be true, false or "auto"');
  }
  const format = section.format ?? 'auto';
  if (format !== 'auto' && format !== 'yolov8' && format !== 'yolov5') {
    fail('postprocessing.format must be "yolov8", "yolov5" or "auto"');
  }
  const boxes = section.boxes ?? 'pixels';
  if (boxes !== 'pixels' && boxes !== 'normalized') {
    fail('postprocessing.boxes must be "pixels" or "normalized"');
  }
  return { output, softmax, format, boxes };
}
