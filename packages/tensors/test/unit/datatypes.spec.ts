import {
  DATATYPES,
  datatypeFromOrtType,
  elementSize,
  fromTypedArray,
  isDatatype,
  isFixedDatatype,
  ortTypeOf,
  toTypedArray,
  TYPED_ARRAY_CLASSES,
  type FixedDatatype,
} from '@strata/tensors';

describe('datatypes', () => {
  it('lists the 13 protocol datatypes', () => {
    expect(DATATYPES).toEqual([
      'BOOL',
      'UINT8',
      'UINT16',
      'UINT32',
      'UINT64',
      'INT8',
      'INT16',
      'INT32',
      'INT64',
      'FP16',
      'FP32',
      'FP64',
      'BYTES',
    ]);
    expect(isDatatype('FP32')).toBe(true);
    expect(isDatatype('FLOAT32')).toBe(false);
    expect(isDatatype(1)).toBe(false);
    expect(isFixedDatatype('BYTES')).toBe(false);
    expect(isFixedDatatype('BOOL')).toBe(true);
  });

  it.each([
    ['BOOL', 1, Uint8Array, 'bool'],
    ['UINT8', 1, Uint8Array, 'uint8'],
    ['UINT16', 2, Uint16Array, 'uint16'],
    ['UINT32', 4, Uint32Array, 'uint32'],
    ['UINT64', 8, BigUint64Array, 'uint64'],
    ['INT8', 1, Int8Array, 'int8'],
    ['INT16', 2, Int16Array, 'int16'],
    ['INT32', 4, Int32Array, 'int32'],
    ['INT64', 8, BigInt64Array, 'int64'],
    ['FP16', 2, Uint16Array, 'float16'],
    ['FP32', 4, Float32Array, 'float32'],
    ['FP64', 8, Float64Array, 'float64'],
  ] as const)('%s: %d bytes, %p, ORT %s', (datatype, size, Class, ort) => {
    expect(elementSize(datatype)).toBe(size);
    expect(TYPED_ARRAY_CLASSES[datatype]).toBe(Class);
    expect(TYPED_ARRAY_CLASSES[datatype].BYTES_PER_ELEMENT).toBe(size);
    expect(ortTypeOf(datatype)).toBe(ort);
    expect(datatypeFromOrtType(ort)).toBe(datatype);
  });

  it('BYTES has no element size and maps to ORT strings', () => {
    expect(elementSize('BYTES')).toBeUndefined();
    expect(ortTypeOf('BYTES')).toBe('string');
    expect(datatypeFromOrtType('string')).toBe('BYTES');
    expect(datatypeFromOrtType('bfloat16')).toBeUndefined();
  });
});

describe('toTypedArray / fromTypedArray', () => {
  it('views aligned bytes without copying', () => {
    const bytes = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const array = toTypedArray('FP32', bytes);
    expect(array).toBeInstanceOf(Float32Array);
    expect(Array.from(array)).toEqual([1, 2, 3]);
    array[0] = 9;
    expect(bytes.readFloatLE(0)).toBe(9);
  });

  it('copies misaligned bytes', () => {
    const backing = Buffer.alloc(17);
    const bytes = backing.subarray(1);
    bytes.writeBigInt64LE(-5n, 0);
    bytes.writeBigInt64LE(2n ** 63n - 1n, 8);
    const array = toTypedArray('INT64', bytes);
    expect(array).toBeInstanceOf(BigInt64Array);
    expect(Array.from(array)).toEqual([-5n, 2n ** 63n - 1n]);
    array[0] = 0n;
    expect(bytes.readBigInt64LE(0)).toBe(-5n);
  });

  it('refuses a partial element', () => {
    expect(() => toTypedArray('UINT32', Buffer.alloc(6))).toThrow(RangeError);
  });

  it.each(Object.keys(TYPED_ARRAY_CLASSES) as FixedDatatype[])(
    '%s round-trips through its typed array',
    (datatype) => {
      const bytes = Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 37) % 2));
      const array = toTypedArray(datatype, bytes);
      expect(fromTypedArray(array).equals(bytes)).toBe(true);
    },
  );
});
