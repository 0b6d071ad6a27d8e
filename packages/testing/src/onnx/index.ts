export { ProtoWriter, encodeVarint } from './protobuf-writer';
export {
  encodeModel,
  encodeTensor,
  ONNX_ELEMENT_TYPE,
  ONNX_DATATYPES,
  DEFAULT_IR_VERSION,
  DEFAULT_OPSET,
  type OnnxDatatype,
  type OnnxDim,
  type OnnxValueInfo,
  type OnnxTensor,
  type OnnxAttributeValue,
  type OnnxNode,
  type OnnxGraph,
  type OnnxModel,
} from './onnx-proto';
export {
  buildIdentityModel,
  buildAddModel,
  buildCastModel,
  buildTwoInTwoOutModel,
  buildLargeModel,
  writeModel,
  type ModelFileOptions,
  type IdentityModelOptions,
  type AddModelOptions,
  type CastModelOptions,
  type LargeModelOptions,
} from './onnx-models';
export {
  buildConstantOutputModel,
  yoloV8Output,
  type ConstantOutputModelOptions,
  type YoloDetection,
} from './constant-output-model';
