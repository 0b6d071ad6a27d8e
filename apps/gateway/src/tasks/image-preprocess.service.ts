import type { RawTensor } from '@strata/tensors';
import sharp from 'sharp';
import { BadRequestError, PayloadTooLargeError } from '../http/http-errors';
import type { ResolvedPreprocessConfig } from './preprocess-config';

/** How model-input coordinates map back to the original image: `orig = (x - pad) / scale`. */
export interface ImageTransform {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

export interface PreparedImage {
  /** FP32 `[1, 3, H, W]` for the model input. */
  tensor: RawTensor;
  /** Size of the decoded image, after EXIF orientation. */
  original: { width: number; height: number };
  transform: ImageTransform;
}

export interface ResizePlan extends ImageTransform {
  /** Size the image is resized to before padding. */
  width: number;
  height: number;
}

/** Where the image goes inside the target for each resize mode. Pure. */
export function planResize(
  original: { width: number; height: number },
  target: { width: number; height: number },
  mode: ResolvedPreprocessConfig['resize'],
): ResizePlan {
  if (mode === 'stretch') {
    return {
      width: target.width,
      height: target.height,
      scaleX: target.width / original.width,
      scaleY: target.height / original.height,
      padX: 0,
      padY: 0,
    };
  }
  const s = Math.min(target.width / original.width, target.height / original.height);
  const width = Math.min(target.width, Math.max(1, Math.round(original.width * s)));
  const height = Math.min(target.height, Math.max(1, Math.round(original.height * s)));
  const centred = mode === 'letterbox';
  return {
    width,
    height,
    scaleX: width / original.width,
    scaleY: height / original.height,
    padX: centred ? Math.floor((target.width - width) / 2) : 0,
    padY: centred ? Math.floor((target.height - height) / 2) : 0,
  };
}

/**
 * Writes resized RGB pixels (`channels` per pixel, row-major) into an NCHW float tensor of the
 * target size: padding first, then each pixel as `(v * scale - mean[c]) / std[c]` in the
 * configured channel order. Pure.
 */
export function toNchw(
  pixels: Uint8Array,
  channels: number,
  plan: ResizePlan,
  config: ResolvedPreprocessConfig,
): Float32Array {
  const { width: W, height: H } = config.size;
  const plane = W * H;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    // Output channel c reads source channel src (RGB order in memory).
    const src = config.channelOrder === 'RGB' ? c : 2 - c;
    const mean = config.mean[c];
    const std = config.std[c];
    const pad = (config.padColor[src] * config.scale - mean) / std;
    const base = c * plane;
    out.fill(pad, base, base + plane);
    const from = channels >= 3 ? src : 0;
    for (let y = 0; y < plan.height; y++) {
      const row = base + (y + plan.padY) * W + plan.padX;
      const srcRow = y * plan.width * channels;
      for (let x = 0; x < plan.width; x++) {
        out[row + x] = (pixels[srcRow + x * channels + from] * config.scale - mean) / std;
      }
    }
  }
  return out;
}

/**
 * Decodes an image with sharp (EXIF orientation applied, alpha dropped, any colour space to
 * sRGB) and turns it into the model's input tensor as environment.json says.
 */
export class ImagePreprocessService {
  constructor(private readonly maxPixels: number) {}

  async prepare(bytes: Buffer, config: ResolvedPreprocessConfig): Promise<PreparedImage> {
    if (bytes.length === 0) throw new BadRequestError('the image is empty');
    const options = { limitInputPixels: this.maxPixels, failOn: 'error' as const };
    let meta: sharp.Metadata;
    try {
      meta = await sharp(bytes, options).metadata();
    } catch (err) {
      throw this.decodeError(err);
    }
    if (!meta.width || !meta.height) throw new BadRequestError('the image has no size');
    if (meta.width * meta.height > this.maxPixels) {
      throw new PayloadTooLargeError(
        `the image has ${meta.width}x${meta.height} pixels, over the limit of ${this.maxPixels}`,
      );
    }
    // Orientations 5–8 swap width and height.
    const rotated = (meta.orientation ?? 1) >= 5;
    const original = rotated
      ? { width: meta.height, height: meta.width }
      : { width: meta.width, height: meta.height };
    const plan = planResize(original, config.size, config.resize);
    let raw: { data: Buffer; info: sharp.OutputInfo };
    try {
      raw = await sharp(bytes, options)
        .rotate()
        .resize(plan.width, plan.height, { fit: 'fill' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw this.decodeError(err);
    }
    const data = toNchw(raw.data, raw.info.channels, plan, config);
    return {
      tensor: {
        name: config.input,
        datatype: 'FP32',
        shape: [1, 3, config.size.height, config.size.width],
        data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      },
      original,
      transform: { scaleX: plan.scaleX, scaleY: plan.scaleY, padX: plan.padX, padY: plan.padY },
    };
  }

  private decodeError(err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    if (/pixel limit/i.test(message)) {
      return new PayloadTooLargeError(`the image is larger than ${this.maxPixels} pixels`);
    }
    return new BadRequestError(`the image could not be decoded: ${message}`);
  }
}
