import type { TensorSpec } from '@strata/model-registry';
import { planResize, toNchw } from '../../src/tasks/image-preprocess.service';
import {
  readPostprocessing,
  readPreprocessing,
  resolvePreprocessing,
  type ResolvedPreprocessConfig,
} from '../../src/tasks/preprocess-config';

const CLS: TensorSpec[] = [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }];
const YOLO: TensorSpec[] = [{ name: 'images', datatype: 'FP32', shape: [1, 3, 64, 64] }];

describe('environment.json preprocessing', () => {
  it('takes the size from the input shape and applies defaults', () => {
    expect(readPreprocessing({}, YOLO)).toEqual({
      input: 'images',
      size: { width: 64, height: 64 },
      resize: 'stretch',
      padColor: [0, 0, 0],
      scale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      channelOrder: 'RGB',
      layout: 'NCHW',
    });
    expect(readPreprocessing({ preprocessing: { resize: 'letterbox' } }, YOLO).padColor).toEqual([
      114, 114, 114,
    ]);
  });

  it('needs a size for dynamic inputs', () => {
    expect(() => resolvePreprocessing({}, CLS)).toThrow(
      /preprocessing.size must give the target size/,
    );
    const c = resolvePreprocessing(
      {
        preprocessing: {
          size: { width: 192, height: 48 },
          resize: 'fit-pad',
          mean: 0.5,
          std: [0.5, 0.5, 0.5],
          channelOrder: 'BGR',
        },
      },
      CLS,
    );
    expect(c).toMatchObject({
      size: { width: 192, height: 48 },
      mean: [0.5, 0.5, 0.5],
      channelOrder: 'BGR',
    });
  });

  it('refuses what it cannot do, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ resize: 'crop' }, /preprocessing.resize must be one of/],
      [{ layout: 'NHWC' }, /layout must be "NCHW"/],
      [{ mean: [1, 2] }, /preprocessing.mean must be/],
      [{ std: 0 }, /preprocessing.std must be/],
      [{ size: { width: 10, height: 10 } }, /does not fit input/],
      [{ input: 'nope' }, /not an input of the model/],
      [{ extra: 1 }, /unknown key preprocessing.extra/],
    ];
    for (const [section, message] of bad) {
      expect(() => readPreprocessing({ preprocessing: section }, YOLO)).toThrow(message);
    }
    expect(() =>
      readPreprocessing({}, [{ name: 'audio', datatype: 'FP32', shape: [-1, 512] }]),
    ).toThrow(/an image input is NCHW with 3 channels/);
    expect(() =>
      readPreprocessing({}, [{ name: 'ids', datatype: 'INT64', shape: [1, 3, 4, 4] }]),
    ).toThrow(/FP32 inputs only/);
  });

  it('reads postprocessing with defaults', () => {
    const outs: TensorSpec[] = [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }];
    expect(readPostprocessing({}, outs)).toEqual({
      output: 'y',
      softmax: 'auto',
      format: 'auto',
      boxes: 'pixels',
    });
    expect(() => readPostprocessing({ postprocessing: { output: 'z' } }, outs)).toThrow(
      /must name an output/,
    );
    expect(() => readPostprocessing({ postprocessing: { format: 'ssd' } }, outs)).toThrow(/format/);
  });
});

describe('resize plans and NCHW conversion', () => {
  it('plans stretch, letterbox and fit-pad', () => {
    expect(planResize({ width: 200, height: 100 }, { width: 64, height: 64 }, 'stretch')).toEqual({
      width: 64,
      height: 64,
      scaleX: 0.32,
      scaleY: 0.64,
      padX: 0,
      padY: 0,
    });
    expect(planResize({ width: 200, height: 100 }, { width: 64, height: 64 }, 'letterbox')).toEqual(
      {
        width: 64,
        height: 32,
        scaleX: 0.32,
        scaleY: 0.32,
        padX: 0,
        padY: 16,
      },
    );
    expect(
      planResize({ width: 100, height: 50 }, { width: 192, height: 48 }, 'fit-pad'),
    ).toMatchObject({
      width: 96,
      height: 48,
      padX: 0,
      padY: 0,
    });
  });

  it('normalises, orders channels and pads', () => {
    const config: ResolvedPreprocessConfig = {
      input: 'x',
      size: { width: 3, height: 1 },
      resize: 'fit-pad',
      padColor: [255, 0, 0],
      scale: 1,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      channelOrder: 'BGR',
      layout: 'NCHW',
    };
    // Two pixels (R, G, B): red, blue; one padded column (padColor red).
    const pixels = new Uint8Array([255, 0, 0, 0, 0, 255]);
    const plan = { width: 2, height: 1, scaleX: 1, scaleY: 1, padX: 0, padY: 0 };
    const out = toNchw(pixels, 3, plan, config);
    // BGR planes: B = [0, 255, 0], G = [0, 0, 0], R = [255, 0, 255]
    expect(Array.from(out)).toEqual([0, 255, 0, 0, 0, 0, 255, 0, 255]);
    const norm = toNchw(pixels, 3, plan, {
      ...config,
      channelOrder: 'RGB',
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    });
    expect(Array.from(norm.slice(0, 3))).toEqual([1, -1, 1]);
  });
});
