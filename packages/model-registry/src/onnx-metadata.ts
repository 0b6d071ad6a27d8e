import { InferenceSession } from 'onnxruntime-node';
import { describeCause, InvalidArtifactError } from './errors';

/** Tensor datatypes of the Open Inference Protocol (KServe v2). */
export type OipDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

/** One input or output as the v2 model metadata endpoint reports it; -1 is a dynamic dimension. */
export interface TensorSpec {
  name: string;
  datatype: OipDatatype;
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

const ORT_TO_OIP: Readonly<Record<string, OipDatatype>> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

/** Maps an ONNX Runtime element type to its OIP datatype; `undefined` when OIP has none (int4). */
export function oipDatatype(ortType: string): OipDatatype | undefined {
  return ORT_TO_OIP[ortType];
}

/**
 * ORT reports symbolic dimensions as strings (`"batch"`, `"p2o.DynamicDimension.0"`) and unknown
 * ones as negative numbers; OIP writes both as -1.
 */
export function normalizeShape(shape: ReadonlyArray<number | string>): number[] {
  return shape.map((d) => (typeof d === 'number' && Number.isInteger(d) && d >= 0 ? d : -1));
}

/** What `session.inputMetadata` / `outputMetadata` hold (onnxruntime-common 1.30). */
export type OrtValueMetadata =
  | { readonly name: string; readonly isTensor: false }
  | {
      readonly name: string;
      readonly isTensor: true;
      readonly type: string;
      readonly shape: ReadonlyArray<number | string>;
    };

/** Converts ORT value metadata to tensor specs; refuses values OIP cannot carry. */
export function toTensorSpecs(
  values: readonly OrtValueMetadata[],
  kind: 'input' | 'output',
  file: string,
): TensorSpec[] {
  return values.map((v) => {
    if (!v.isTensor)
      throw new InvalidArtifactError(
        `${file}: ${kind} "${v.name}" is not a tensor (sequences and maps cannot be served over the Open Inference Protocol)`,
      );
    const datatype = oipDatatype(v.type);
    if (!datatype)
      throw new InvalidArtifactError(
        `${file}: ${kind} "${v.name}" has element type ${v.type}, which the Open Inference Protocol has no datatype for`,
      );
    return { name: v.name, datatype, shape: normalizeShape(v.shape) };
  });
}

/**
 * Loads `weightsPath` with ONNX Runtime (graph optimisation off: this proves the file parses and
 * reads its signature, it does not prepare it for serving) and returns its inputs and outputs.
 */
export async function inspectOnnxModel(weightsPath: string): Promise<ModelSignature> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(weightsPath, {
      graphOptimizationLevel: 'disabled',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
  } catch (error) {
    throw new InvalidArtifactError(
      `${weightsPath} is not an ONNX model ONNX Runtime can load: ${describeCause(error)}`,
      { cause: error },
    );
  }
  try {
    return {
      inputs: toTensorSpecs(session.inputMetadata as OrtValueMetadata[], 'input', weightsPath),
      outputs: toTensorSpecs(session.outputMetadata as OrtValueMetadata[], 'output', weightsPath),
    };
  } finally {
    await session.release();
  }
}
