import { encodeJsonValues, type RawTensor, type TensorDatatype } from '@strata/tensors';

/** Sample values of every datatype, extremes included, as JSON would carry them. */
export const SAMPLES: Record<TensorDatatype, (number | string | boolean)[]> = {
  BOOL: [true, false, true, true],
  UINT8: [0, 1, 128, 255],
  UINT16: [0, 1, 0x1234, 65535],
  UINT32: [0, 1, 0x12345678, 4294967295],
  UINT64: [0, 9007199254740991, '9007199254740992', '18446744073709551615'],
  INT8: [-128, -1, 0, 127],
  INT16: [-32768, -1, 0, 32767],
  INT32: [-2147483648, -1, 0, 2147483647],
  INT64: ['-9223372036854775808', -9007199254740991, 42, '9223372036854775807'],
  FP16: [1, -2.5, 65504, 2 ** -24, 2 ** -14, 'Infinity', '-Infinity', 'NaN'],
  FP32: [0.5, -3.25, 3.4028234663852886e38, 1.401298464324817e-45, 'NaN', '-Infinity'],
  FP64: [Math.PI, -Number.MAX_VALUE, 5e-324, 'Infinity'],
  BYTES: ['hello', '', 'ünïcødé ✓', 'a\u0000b'],
};

export function raw(
  name: string,
  datatype: TensorDatatype,
  shape: number[],
  values: readonly unknown[],
): RawTensor {
  return { name, datatype, shape, data: encodeJsonValues(`input "${name}"`, datatype, values) };
}

/** The TensorError a function throws (fails the test when it throws nothing or something else). */
export function errorOf(fn: () => unknown): { message: string; status: number } {
  try {
    fn();
  } catch (error) {
    if (error instanceof Error && error.name === 'TensorError') {
      return error as unknown as { message: string; status: number };
    }
    throw error;
  }
  throw new Error('expected a TensorError, nothing was thrown');
}
