/** Rounds a non-negative number to the nearest integer, ties to even (IEEE 754 default). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The IEEE 754 half-precision bits nearest to `value` (round to nearest, ties to even),
 * computed directly from the double so there is no double rounding through float32. Values
 * from 65520 up become infinity, values up to 2^-25 become (signed) zero, subnormals are kept,
 * NaN becomes the quiet NaN 0x7e00.
 */
export function numberToFp16(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const abs = Math.abs(value);
  // 65520 lies halfway between 65504 (odd mantissa) and 65536 (overflow): ties to even → inf.
  if (abs >= 65520) return sign | 0x7c00;
  if (abs < 2 ** -14) {
    // Subnormal: units of 2^-24. Scaling by a power of two is exact, so only one rounding.
    // A result of 1024 is the smallest normal, whose bits are the same number.
    return sign | roundHalfEven(abs * 2 ** 24);
  }
  let exponent = Math.floor(Math.log2(abs));
  // Math.log2 may be off by one just below or at a power of two.
  if (2 ** exponent > abs) exponent -= 1;
  else if (2 ** (exponent + 1) <= abs) exponent += 1;
  let mantissa = roundHalfEven((abs / 2 ** exponent - 1) * 1024);
  let biased = exponent + 15;
  if (mantissa === 1024) {
    mantissa = 0;
    biased += 1;
  }
  if (biased >= 31) return sign | 0x7c00;
  return sign | (biased << 10) | mantissa;
}

/** The number held by IEEE 754 half-precision bits (exact; NaN payloads are not kept). */
export function fp16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const biased = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (biased === 0) return sign * mantissa * 2 ** -24;
  if (biased === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (biased - 25);
}
