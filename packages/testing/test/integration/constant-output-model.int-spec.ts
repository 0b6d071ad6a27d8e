import * as ort from 'onnxruntime-node';
import { buildConstantOutputModel, yoloV8Output } from '@strata/testing';

describe('buildConstantOutputModel (ONNX Runtime)', () => {
  it('answers the same tensor whatever the input', async () => {
    const head = yoloV8Output(
      [
        { cx: 10, cy: 20, w: 4, h: 6, classId: 1, score: 0.9 },
        { cx: 30, cy: 30, w: 8, h: 8, classId: 0, score: 0.5 },
      ],
      2,
      5,
    );
    expect(head.dims).toEqual([1, 6, 5]);
    const session = await ort.InferenceSession.create(buildConstantOutputModel(head));
    try {
      expect(session.inputNames).toEqual(['images']);
      for (const fill of [0, 1]) {
        const input = new ort.Tensor(
          'float32',
          new Float32Array(3 * 64 * 64).fill(fill),
          [1, 3, 64, 64],
        );
        const out = await session.run({ images: input });
        expect(out.output0.dims).toEqual([1, 6, 5]);
        expect(Array.from(out.output0.data as Float32Array)).toEqual(Array.from(head.values));
      }
      // anchor 0: cx, cy, w, h, class 0 score, class 1 score
      expect([0, 1, 2, 3, 4, 5].map((f) => head.values[f * 5])).toEqual([
        10,
        20,
        4,
        6,
        0,
        expect.closeTo(0.9, 6),
      ]);
    } finally {
      await session.release();
    }
  });

  it('refuses values that do not fill the dims', () => {
    expect(() => buildConstantOutputModel({ dims: [1, 2], values: [1] })).toThrow(RangeError);
  });
});
