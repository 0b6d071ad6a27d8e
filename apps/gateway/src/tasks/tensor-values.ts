import { fp16ToNumber, toTypedArray, type RawTensor } from '@strata/tensors';
import { BadRequestError } from '../http/http-errors';

/** A floating-point output as plain numbers (FP16 converted). */
export function floatValues(tensor: RawTensor): Float32Array | Float64Array {
  switch (tensor.datatype) {
    case 'FP32':
      return toTypedArray('FP32', tensor.data);
    case 'FP64':
      return toTypedArray('FP64', tensor.data);
    case 'FP16': {
      const bits = toTypedArray('FP16', tensor.data);
      return Float32Array.from(bits, (b) => fp16ToNumber(b));
    }
    default:
      throw new BadRequestError(
        `output "${tensor.name}" is ${tensor.datatype}; this endpoint reads floating-point outputs only`,
      );
  }
}
