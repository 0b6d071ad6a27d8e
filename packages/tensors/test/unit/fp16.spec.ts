import { fp16ToNumber, numberToFp16 } from '@strata/tensors';

describe('numberToFp16 / fp16ToNumber', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00],
    [1e10, 0x7c00],
    [-1e10, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [NaN, 0x7e00],
    [2 ** -24, 0x0001],
    [-(2 ** -24), 0x8001],
    [2 ** -25, 0x0000], // a tie between 0 and the smallest subnormal: to even
    [-(2 ** -25), 0x8000],
    [2 ** -25 * 1.0000001, 0x0001],
    [3 * 2 ** -25, 0x0002], // a tie between subnormals 1 and 2: to even
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -26, 0x0400], // rounds up out of the subnormals
    [1 / 3, 0x3555],
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // tie: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
    [1 + 2 ** -11 + 2 ** -30, 0x3c01], // just above a tie; float32 would round to the tie first
    [2049, 0x6800],
    [2051, 0x6802],
    [1.9995, 0x3fff],
    [1.99975, 0x4000], // mantissa rounds over into the next exponent
  ])('%p → 0x%s', (value, bits) => {
    expect(numberToFp16(value)).toBe(bits);
  });

  it('decodes specials', () => {
    expect(fp16ToNumber(0x7c00)).toBe(Infinity);
    expect(fp16ToNumber(0xfc00)).toBe(-Infinity);
    expect(fp16ToNumber(0x7e00)).toBeNaN();
    expect(fp16ToNumber(0x7c01)).toBeNaN();
    expect(fp16ToNumber(0xfe00)).toBeNaN();
    expect(Object.is(fp16ToNumber(0x8000), -0)).toBe(true);
    expect(fp16ToNumber(0x0001)).toBe(2 ** -24);
    expect(fp16ToNumber(0x03ff)).toBe(1023 * 2 ** -24);
    expect(fp16ToNumber(0x0400)).toBe(2 ** -14);
    expect(fp16ToNumber(0x7bff)).toBe(65504);
    expect(fp16ToNumber(0x3555)).toBe(0.333251953125);
  });

  it('round-trips every non-NaN bit pattern', () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fp16ToNumber(bits);
      if (!Number.isNaN(value) && numberToFp16(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds every midpoint between neighbours to the even one, and just off it to the nearer', () => {
    const wrong: string[] = [];
    const check = (value: number, bits: number): void => {
      if (numberToFp16(value) !== bits)
        wrong.push(`${value} → ${numberToFp16(value)}, not ${bits}`);
    };
    for (let bits = 0; bits < 0x7bff; bits++) {
      const low = fp16ToNumber(bits);
      const high = fp16ToNumber(bits + 1);
      const mid = (low + high) / 2;
      const even = bits % 2 === 0 ? bits : bits + 1;
      check(mid, even);
      check(-mid, even | 0x8000);
      check(mid - (high - low) / 1024, bits);
      check(mid + (high - low) / 1024, bits + 1);
    }
    expect(wrong).toEqual([]);
  });
});
