import { buildAddModel, encodeModel, encodeVarint, ProtoWriter } from '@strata/testing';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('protobuf writer', () => {
  it.each<[number | bigint, string]>([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [2 ** 32, '8080808010'],
    [2n ** 63n - 1n, 'ffffffffffffffff7f'],
    [2n ** 64n - 1n, 'ffffffffffffffffff01'],
    [-1, 'ffffffffffffffffff01'],
    [-(2n ** 63n), '80808080808080808001'],
  ])('varint %p is %s', (value, expected) => {
    expect(hex(encodeVarint(value))).toBe(expected);
  });

  it('refuses integers past 64 bits', () => {
    expect(() => encodeVarint(2n ** 64n)).toThrow(RangeError);
    expect(() => encodeVarint(-(2n ** 63n) - 1n)).toThrow(RangeError);
  });

  it('writes tags and wire types as the protobuf documentation shows', () => {
    expect(hex(new ProtoWriter().varint(1, 150).finish())).toBe('089601');
    expect(hex(new ProtoWriter().string(2, 'testing').finish())).toBe('120774657374696e67');
    expect(hex(new ProtoWriter().float(3, 1).finish())).toBe('1d0000803f');
    expect(hex(new ProtoWriter().varint(4, true).finish())).toBe('2001');
    const inner = new ProtoWriter().varint(1, 150);
    expect(hex(new ProtoWriter().message(3, inner).finish())).toBe('1a03089601');
    expect(hex(new ProtoWriter().varint(16, 1).finish())).toBe('800101');
  });

  it('starts a model with its IR version and ends with its opset import', () => {
    const model = encodeModel({
      graph: { name: 'g', nodes: [], inputs: [], outputs: [] },
      irVersion: 9,
      opset: 19,
    });
    expect(hex(model.subarray(0, 2))).toBe('0809');
    expect(hex(model.subarray(-6))).toBe('42040a001013');
  });

  it('is deterministic, and doc strings change the bytes only', () => {
    expect(buildAddModel().equals(buildAddModel())).toBe(true);
    expect(buildAddModel({ docString: 'v2' }).equals(buildAddModel())).toBe(false);
  });
});
