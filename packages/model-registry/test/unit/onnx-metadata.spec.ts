import { normalizeShape, oipDatatype, toTensorSpecs } from '../../src/onnx-metadata';

describe('ONNX Runtime metadata → Open Inference Protocol', () => {
  it('maps every ORT element type OIP has a datatype for', () => {
    expect(
      Object.fromEntries(
        [
          'bool',
          'uint8',
          'uint16',
          'uint32',
          'uint64',
          'int8',
          'int16',
          'int32',
          'int64',
          'float16',
          'float32',
          'float64',
          'string',
        ].map((t) => [t, oipDatatype(t)]),
      ),
    ).toEqual({
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
    });
    expect(oipDatatype('int4')).toBeUndefined();
    expect(oipDatatype('uint4')).toBeUndefined();
  });

  it('writes symbolic and unknown dimensions as -1', () => {
    expect(normalizeShape(['batch', 3, 'p2o.DynamicDimension.1', 192])).toEqual([-1, 3, -1, 192]);
    expect(normalizeShape([-1, 0, 7])).toEqual([-1, 0, 7]);
    expect(normalizeShape([])).toEqual([]);
  });

  it('converts tensor metadata and refuses what OIP cannot carry', () => {
    expect(
      toTensorSpecs(
        [{ name: 'x', isTensor: true, type: 'float32', shape: ['n', 3, 48, 192] }],
        'input',
        'w.onnx',
      ),
    ).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, 192] }]);
    expect(() => toTensorSpecs([{ name: 'seq', isTensor: false }], 'output', 'w.onnx')).toThrow(
      'w.onnx: output "seq" is not a tensor',
    );
    expect(() =>
      toTensorSpecs([{ name: 'q', isTensor: true, type: 'int4', shape: [2] }], 'input', 'w.onnx'),
    ).toThrow(/input "q" has element type int4/);
  });
});
