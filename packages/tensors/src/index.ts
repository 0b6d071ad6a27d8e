export {
  DATATYPES,
  isDatatype,
  isFixedDatatype,
  elementSize,
  ortTypeOf,
  datatypeFromOrtType,
  type TensorDatatype,
  type FixedDatatype,
} from './datatypes';
export { TensorError, isTensorError, type TensorErrorStatus } from './tensor-error';
export {
  DEFAULT_TENSOR_LIMITS,
  NO_TENSOR_LIMITS,
  resolveLimits,
  type TensorLimits,
} from './limits';
export { elementCount, formatShape } from './shape';
export { fp16ToNumber, numberToFp16 } from './fp16';
export {
  TYPED_ARRAY_CLASSES,
  toTypedArray,
  fromTypedArray,
  type TypedArrayMap,
  type TensorTypedArray,
} from './typed-arrays';
export { encodeBytesElements, decodeBytesElements } from './bytes-elements';
export { checkRawSize, totalBytes } from './raw-tensor';
export { flattenJsonData, encodeJsonValues } from './json-decode';
export {
  decodeToJsonValues,
  toJsonTensor,
  CONTENT_TYPE_PARAMETER,
  BASE64_CONTENT_TYPE,
  type JsonData,
} from './json-encode';
export { BINARY_DATA_SIZE, BINARY_DATA, BINARY_DATA_OUTPUT } from './tensor-entry';
export {
  parseInferRequest,
  parseInferRequestBody,
  wantsBinaryOutput,
  type ParsedInferRequest,
  type ParseInferRequestOptions,
} from './infer-request';
export {
  buildInferResponse,
  parseInferResponseBody,
  type InferResponseMeta,
  type InferResponseJson,
  type BuiltInferResponse,
  type ParsedInferResponse,
} from './infer-response';
export {
  buildInferRequestBody,
  type InferRequestBodyOptions,
  type BuiltInferRequest,
} from './infer-client';
export {
  checkInputHeader,
  validateInputs,
  validateRequestedOutputs,
  shapeMismatch,
  type ModelTensorSpec,
  type ModelSignature,
  type TensorHeader,
} from './model-validation';
export { toJobTensor, toBlobJobTensor, fromJobTensor } from './job-tensor';
export { concatBatch, splitBatch } from './batch';
export type {
  RawTensor,
  TensorParameters,
  JsonScalar,
  JsonTensorData,
  JsonRequestTensor,
  JsonResponseTensor,
  RequestedOutput,
} from './types';
export { stringifyJson } from './json-writer';
