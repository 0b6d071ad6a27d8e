import { encodeModel, type OnnxDim } from './onnx-proto';
import type { ModelFileOptions } from './onnx-models';

export interface ConstantOutputModelOptions extends ModelFileOptions {
  /** FP32 input the model takes (and ignores); default `images` `[1, 3, 64, 64]`. */
  inputName?: string;
  inputShape?: readonly OnnxDim[];
  /** Default `output0`. */
  outputName?: string;
  /** Shape of the constant FP32 output. */
  dims: readonly number[];
  /** `product(dims)` values, row-major. */
  values: ArrayLike<number>;
}

/**
 * A model whose FP32 output is always the same tensor, whatever the input: for testing
 * postprocessing (e.g. a YOLO head's raw output) without a real network. The input is consumed
 * by a `Shape` node whose result is a second, ignorable output (`input_shape`), so ONNX Runtime
 * sees a graph that uses its input.
 */
export function buildConstantOutputModel(options: ConstantOutputModelOptions): Buffer {
  const input = options.inputName ?? 'images';
  const output = options.outputName ?? 'output0';
  const count = options.dims.reduce((a, b) => a * b, 1);
  if (options.values.length !== count) {
    throw new RangeError(`values has ${options.values.length} elements, dims need ${count}`);
  }
  const data = Float32Array.from(options.values);
  return encodeModel({
    ...(options.docString !== undefined && { docString: options.docString }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
    ...(options.opset !== undefined && { opset: options.opset }),
    graph: {
      name: 'constant_output',
      nodes: [
        { opType: 'Identity', inputs: ['constant'], outputs: [output] },
        { opType: 'Shape', inputs: [input], outputs: ['input_shape'] },
      ],
      inputs: [{ name: input, datatype: 'FP32', shape: options.inputShape ?? [1, 3, 64, 64] }],
      outputs: [
        { name: output, datatype: 'FP32', shape: [...options.dims] },
        {
          name: 'input_shape',
          datatype: 'INT64',
          shape: [(options.inputShape ?? [1, 3, 64, 64]).length],
        },
      ],
      initializers: [
        {
          name: 'constant',
          datatype: 'FP32',
          dims: [...options.dims],
          raw: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        },
      ],
    },
  });
}

/** A detection for {@link yoloV8Output}: box centre and size in model-input pixels. */
export interface YoloDetection {
  cx: number;
  cy: number;
  w: number;
  h: number;
  classId: number;
  score: number;
}

/**
 * The raw output of a YOLOv8-style head, `[1, 4 + numClasses, anchors]`: anchor i holds
 * detections[i] (the rest are all zero, so below any threshold).
 */
export function yoloV8Output(
  detections: readonly YoloDetection[],
  numClasses: number,
  anchors: number,
): { dims: number[]; values: Float32Array } {
  if (detections.length > anchors) throw new RangeError('more detections than anchors');
  const features = 4 + numClasses;
  const values = new Float32Array(features * anchors);
  detections.forEach((d, i) => {
    values[0 * anchors + i] = d.cx;
    values[1 * anchors + i] = d.cy;
    values[2 * anchors + i] = d.w;
    values[3 * anchors + i] = d.h;
    values[(4 + d.classId) * anchors + i] = d.score;
  });
  return { dims: [1, features, anchors], values };
}
