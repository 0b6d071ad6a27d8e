import {
  decodeBytesElements,
  encodeBytesElements,
  toTypedArray,
  fromTypedArray,
  type RawTensor,
} from '@strata/tensors';
import type { TensorDatatype } from '@strata/cache-keys';
import * as ort from 'onnxruntime-node';
import type { ModelSession, SessionFactory, TensorInfo } from './model-session';

/** ONNX Runtime's element type names → OIP datatypes (types OIP lacks stay unmapped). */
const FROM_ORT: Readonly<Record<string, TensorDatatype>> = {
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

const TO_ORT: Readonly<Record<TensorDatatype, ort.Tensor.Type>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

export interface OrtSessionOptions {
  /** Intra-op threads per session; 0 lets ONNX Runtime use one per core. */
  readonly intraOpThreads: number;
}

function infoOf(meta: ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, datatype: undefined, dims: undefined };
  return {
    name: meta.name,
    datatype: FROM_ORT[meta.type],
    dims: meta.shape.length === 0 ? undefined : [...meta.shape],
  };
}

/** Raw little-endian bytes → an ort.Tensor (a view on the bytes where alignment allows). */
export function toOrtTensor(tensor: RawTensor): ort.Tensor {
  const dims = [...tensor.shape];
  if (tensor.datatype === 'BYTES') {
    const strings = decodeBytesElements(tensor.data, tensor.shape, `input "${tensor.name}"`).map(
      (b) => b.toString('utf8'),
    );
    return new ort.Tensor('string', strings, dims);
  }
  const data = toTypedArray(tensor.datatype, tensor.data);
  // BOOL travels as one byte per element, which is what ORT's bool tensors hold; FP16 as its raw
  // bits in a Uint16Array, which ORT 1.30 accepts for float16.
  return new ort.Tensor(TO_ORT[tensor.datatype], data as never, dims);
}

/** An ort.Tensor → raw little-endian bytes (BYTES: length-prefixed UTF-8 elements). */
export function fromOrtTensor(name: string, tensor: ort.Tensor): RawTensor {
  const datatype = FROM_ORT[tensor.type];
  if (datatype === undefined) {
    throw new Error(`output "${name}" has element type ${tensor.type}, which OIP cannot carry`);
  }
  const shape = tensor.dims.map(Number);
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: encodeBytesElements(tensor.data as string[]) };
  }
  const data = tensor.data as ArrayBufferView;
  // A copy: the answer outlives the run, and ORT may reuse the memory behind its outputs.
  return { name, datatype, shape, data: Buffer.from(fromTypedArray(data)) };
}

class OrtModelSession implements ModelSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];

  constructor(private readonly session: ort.InferenceSession) {
    this.inputs = session.inputMetadata.map(infoOf);
    this.outputs = session.outputMetadata.map(infoOf);
  }

  async run(
    feeds: readonly RawTensor[],
    outputs: readonly string[],
  ): Promise<Map<string, RawTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const feed of feeds) ortFeeds[feed.name] = toOrtTensor(feed);
    const result = await this.session.run(ortFeeds, [...outputs]);
    const out = new Map<string, RawTensor>();
    for (const name of outputs) {
      const tensor = result[name];
      if (!tensor) throw new Error(`ONNX Runtime returned no output "${name}"`);
      out.set(name, fromOrtTensor(name, tensor));
      tensor.dispose();
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** All onnxruntime-node code of the worker sits behind this factory and the sessions it makes. */
export class OrtSessionFactory implements SessionFactory {
  constructor(private readonly options: OrtSessionOptions) {}

  async create(path: string): Promise<ModelSession> {
    const session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      // Run failures come back as errors the worker reports per job; ONNX Runtime's own stderr
      // lines for them would only duplicate those, without the job they belong to.
      logSeverityLevel: 4,
      ...(this.options.intraOpThreads > 0
        ? { intraOpNumThreads: this.options.intraOpThreads }
        : {}),
    });
    return new OrtModelSession(session);
  }
}
