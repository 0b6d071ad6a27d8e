import type { TensorDatatype } from './datatypes';

/** Tensor parameters of the protocol (`$parameters`): string, number or boolean values. */
export type TensorParameters = Record<string, unknown>;

/**
 * A tensor as raw little-endian bytes: the form tensors take between the wire formats, jobs
 * (`JobTensor`) and ONNX Runtime. Fixed-size datatypes hold `elementCount × elementSize` bytes
 * (BOOL one byte 0/1 per element, FP16 the raw half bits); BYTES holds each element as a 4-byte
 * little-endian length followed by its bytes, which is also the binary extension's encoding.
 */
export interface RawTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  data: Buffer;
  /** Parameters given with the tensor, minus the transport ones (see README). */
  parameters?: TensorParameters;
}

/** A scalar of JSON tensor data. */
export type JsonScalar = number | string | boolean;

/** JSON tensor data: flat, or nested exactly as the shape. */
export type JsonTensorData = readonly (JsonScalar | JsonTensorData)[];

/** A tensor of a JSON request (`inputs[i]`): `data`, or `parameters.binary_data_size`. */
export interface JsonRequestTensor {
  name: string;
  shape: number[];
  datatype: string;
  data?: JsonTensorData;
  parameters?: TensorParameters;
}

/** A tensor of a JSON response (`outputs[i]`): flat data, or none when sent as binary. */
export interface JsonResponseTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  data?: JsonScalar[];
  parameters?: TensorParameters;
}

/** An entry of a request's `outputs`. `parameters.binary_data` asks for binary data. */
export interface RequestedOutput {
  name: string;
  parameters?: TensorParameters;
}
