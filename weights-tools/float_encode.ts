// Encoders from JS numbers (float64) to the bit patterns stored in safetensors files.
// Only used to build small value tables, so clarity beats speed here.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary32 bits of x (round-to-nearest-even, as Math.fround does). */
export function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

/** Rounds v ≥ 0 to an integer, ties to even. */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const frac = v - floor;
  if (frac > 0.5) return floor + 1;
  if (frac < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * IEEE binary16 bits of x, rounded to nearest even directly from float64 (no detour through
 * f32, which would round twice). Every scaling below is by a power of two, hence exact.
 */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // 65520 = 65504 (max half) + half an ulp (16): ties go to the even neighbour, which is ∞.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal: an integer count of 2^-24 units; a count of 1024 is the smallest normal.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let exponent = Math.floor(Math.log2(a));
  // log2 may be off by one near powers of two; pin the exponent exactly.
  if (2 ** exponent > a) exponent--;
  if (2 ** (exponent + 1) <= a) exponent++;
  let mantissa = roundHalfEven((a / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    // Rounded up to the next power of two: 1.1111111111|1 → 10.0000000000.
    mantissa = 0;
    exponent++;
  }
  if (exponent > 15) return sign | 0x7c00;
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** bfloat16 bits: the high half of the f32 bits, rounded to nearest even (DESIGN §2). */
export function bf16Bits(x: number): number {
  const bits = f32Bits(x);
  if (Number.isNaN(x)) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  // Adding 0x7fff plus the kept half's lowest bit rounds ties to even; carries into the
  // exponent are correct (they round up to the next binade or to ∞).
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
