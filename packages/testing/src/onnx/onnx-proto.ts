// Plain descriptions of ONNX models and their encoding as an onnx.ModelProto, field numbers
// from onnx/onnx.proto (IR version 8 and later use the same ones).
import { ProtoWriter } from './protobuf-writer';

/** The Open Inference Protocol datatypes, as the builder names ONNX element types. */
export type OnnxDatatype =
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

/** onnx.TensorProto.DataType of each datatype (BYTES is ONNX STRING). */
export const ONNX_ELEMENT_TYPE: { readonly [D in OnnxDatatype]: number } = {
  FP32: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BYTES: 8,
  BOOL: 9,
  FP16: 10,
  FP64: 11,
  UINT32: 12,
  UINT64: 13,
};

export const ONNX_DATATYPES = Object.keys(ONNX_ELEMENT_TYPE) as OnnxDatatype[];

/**
 * A dimension: a size (>= 0), a name for a symbolic dimension (`'batch'`), or -1 for a dynamic
 * dimension without a name.
 */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  datatype: OnnxDatatype;
  /** Omitted: a tensor of unknown rank. */
  shape?: readonly OnnxDim[];
}

/** A constant tensor: raw little-endian bytes, or strings for BYTES. */
export interface OnnxTensor {
  name: string;
  datatype: OnnxDatatype;
  dims: readonly number[];
  raw?: Uint8Array;
  strings?: readonly (string | Uint8Array)[];
}

export type OnnxAttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number | bigint }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'ints'; value: readonly (number | bigint)[] }
  | { type: 'floats'; value: readonly number[] };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttributeValue>>;
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  initializers?: readonly OnnxTensor[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Default 8. */
  irVersion?: number;
  /** Version of the default (ai.onnx) operator set; default 17. */
  opset?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** ModelProto.metadata_props. */
  metadata?: Readonly<Record<string, string>>;
}

export const DEFAULT_IR_VERSION = 8;
export const DEFAULT_OPSET = 17;

function tensorShape(shape: readonly OnnxDim[]): ProtoWriter {
  const proto = new ProtoWriter();
  for (const dim of shape) {
    const d = new ProtoWriter();
    if (typeof dim === 'string')
      d.string(2, dim); // dim_param
    else if (dim >= 0) d.varint(1, dim); // dim_value
    // -1: neither field, a dimension ONNX Runtime treats as unknown.
    proto.message(1, d);
  }
  return proto;
}

function valueInfo(info: OnnxValueInfo): ProtoWriter {
  const tensorType = new ProtoWriter().varint(1, ONNX_ELEMENT_TYPE[info.datatype]);
  if (info.shape) tensorType.message(2, tensorShape(info.shape));
  const type = new ProtoWriter().message(1, tensorType); // TypeProto.tensor_type
  return new ProtoWriter().string(1, info.name).message(2, type);
}

export function encodeTensor(tensor: OnnxTensor): ProtoWriter {
  const proto = new ProtoWriter();
  for (const dim of tensor.dims) proto.varint(1, dim);
  proto.varint(2, ONNX_ELEMENT_TYPE[tensor.datatype]);
  if (tensor.datatype === 'BYTES') {
    for (const s of tensor.strings ?? []) {
      if (typeof s === 'string') proto.string(6, s);
      else proto.bytes(6, s);
    }
  }
  proto.string(8, tensor.name);
  if (tensor.datatype !== 'BYTES') proto.bytes(9, tensor.raw ?? new Uint8Array(0));
  return proto;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function attribute(name: string, attr: OnnxAttributeValue): ProtoWriter {
  const proto = new ProtoWriter().string(1, name).varint(20, ATTRIBUTE_TYPE[attr.type]);
  switch (attr.type) {
    case 'float':
      return proto.float(2, attr.value);
    case 'int':
      return proto.varint(3, attr.value);
    case 'string':
      return proto.string(4, attr.value);
    case 'tensor':
      return proto.message(5, encodeTensor(attr.value));
    case 'floats':
      for (const v of attr.value) proto.float(7, v);
      return proto;
    case 'ints':
      for (const v of attr.value) proto.varint(8, v);
      return proto;
  }
}

function node(n: OnnxNode, index: number): ProtoWriter {
  const proto = new ProtoWriter();
  for (const input of n.inputs) proto.string(1, input);
  for (const output of n.outputs) proto.string(2, output);
  proto.string(3, n.name ?? `${n.opType.toLowerCase()}_${index}`);
  proto.string(4, n.opType);
  for (const [name, value] of Object.entries(n.attributes ?? {})) {
    proto.message(5, attribute(name, value));
  }
  if (n.domain !== undefined) proto.string(7, n.domain);
  return proto;
}

function graph(g: OnnxGraph): ProtoWriter {
  const proto = new ProtoWriter();
  g.nodes.forEach((n, i) => proto.message(1, node(n, i)));
  proto.string(2, g.name);
  for (const init of g.initializers ?? []) proto.message(5, encodeTensor(init));
  for (const input of g.inputs) proto.message(11, valueInfo(input));
  for (const output of g.outputs) proto.message(12, valueInfo(output));
  return proto;
}

/** The bytes of an ONNX file (a serialized onnx.ModelProto). */
export function encodeModel(model: OnnxModel): Buffer {
  const proto = new ProtoWriter()
    .varint(1, model.irVersion ?? DEFAULT_IR_VERSION)
    .string(2, model.producerName ?? 'strata-testing')
    .string(3, model.producerVersion ?? '1');
  if (model.docString !== undefined) proto.string(6, model.docString);
  proto.message(7, graph(model.graph));
  proto.message(8, new ProtoWriter().string(1, '').varint(2, model.opset ?? DEFAULT_OPSET));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    proto.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return proto.finish();
}
