// Block quantization in llama.cpp's Q8_0 and Q4_0 formats (round to nearest, no search), and
// the float decoding the quantizer needs. A block is 32 consecutive values of a row with one
// f16 scale d (layouts in src/engine/safetensors.ts and native/engine/quant.h):
//   Q8_0  d = max|x| / 127, q = round(x / d) ∈ [−127, 127]                value d·q
//   Q4_0  d = m / −8 where m is the value of largest magnitude (sign kept),
//         n = min(15, ⌊x / d + 8.5⌋)                                      value d·(n − 8)
// Unlike llama.cpp, x / d uses the f16-ROUNDED scale, the one the engine multiplies by, so the
// round trip error is at most d/2 per value (Q4_0: except a value clamped to n = 15, i.e.
// x/d > 7.5, where it is x − 7d ≤ d). The files stay byte-compatible with llama.cpp's blocks.

export const QK = 32;
export const quantFormats = ['q8_0', 'q4_0'] as const;
export type QuantFormat = (typeof quantFormats)[number];

/** safetensors dtype and bytes per block of each format. */
export const quantLayout = {
  q8_0: { dtype: 'Q8_0', blockBytes: 34 },
  q4_0: { dtype: 'Q4_0', blockBytes: 18 },
} as const satisfies Record<QuantFormat, { dtype: string; blockBytes: number }>;

const f32Scratch = new Float32Array(1);
const f32Words = new Uint32Array(f32Scratch.buffer);
const f32Bits = (v: number): number => ((f32Scratch[0] = v), f32Words[0]!);

// f16 bits → value, for all 65536 patterns (exact: every f16 is an f32).
const halfTable = new Float32Array(1 << 16);
for (let h = 0; h < 1 << 16; h++) {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  halfTable[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
}
export const f16Value = (bits: number): number => halfTable[bits]!;

const pow2 = Float64Array.from({ length: 32 }, (_, i) => 2 ** (i - 5)); // 2^-5 … 2^26
const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);

/** Rounds v ≥ 0 to an integer, ties to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * f16 bits of x, rounded to nearest even straight from float64 — float_encode.ts's f16Bits,
 * with the exponent read from the float's bits instead of Math.log2 (one call per block of a
 * multi-GB model). Scaling by powers of two is exact, so there is one rounding.
 */
export function f16BitsFast(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  f64[0] = x;
  const sign = (f64Words[1]! >>> 16) & 0x8000;
  const a = Math.abs(x);
  const e = ((f64Words[1]! >>> 20) & 0x7ff) - 1023; // a = 1.m · 2^e (for normal a)
  if (a === 0) return sign;
  if (e < -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal; 1024 is the smallest normal
  if (e > 15) return sign | 0x7c00;
  let m = roundHalfEven(a * pow2[10 - e + 5]!); // in [1024, 2048]
  let exponent = e;
  if (m === 2048) {
    m = 1024;
    exponent++;
  }
  return exponent > 15 ? sign | 0x7c00 : sign | ((exponent + 15) << 10) | (m - 1024);
}

/** Source elements (little-endian bytes of F32, F16 or BF16) → f32 values. */
export function decodeFloats(dtype: 'F32' | 'F16' | 'BF16', bytes: Uint8Array, out: Float32Array): void {
  const n = out.length;
  if (dtype === 'F32') {
    new Uint8Array(out.buffer, out.byteOffset, 4 * n).set(bytes.subarray(0, 4 * n)); // little-endian hosts only
    return;
  }
  // Typed-array views need 2-byte alignment: copy the (rare) unaligned input first.
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice(0, 2 * n);
  const half = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  if (dtype === 'F16') {
    // Bit arithmetic for normal numbers (the table is 256 KB: random lookups miss L1).
    const wide = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const h = half[i]!;
      const e = h & 0x7c00;
      // rebias 15 → 127: exponent field + 112 << 10, then move to the f32 position
      wide[i] = e === 0 || e === 0x7c00 ? f32Bits(halfTable[h]!) : ((h & 0x8000) << 16) | (((h & 0x7fff) + 0x1c000) << 13);
    }
  } else {
    const wide = new Uint32Array(out.buffer, out.byteOffset, n); // bf16 is the high half of an f32
    for (let i = 0; i < n; i++) wide[i] = half[i]! << 16;
  }
}

/** The f16 scale of a block, as bits and as the value the engine will multiply by. */
function scale(d: number, what: string): { bits: number; value: number } {
  const bits = f16BitsFast(d);
  const value = halfTable[bits]!;
  if (!Number.isFinite(value)) throw new Error(`${what}: block scale ${d} does not fit an f16 (non-finite or > 65504 weights)`);
  return { bits, value };
}

/** Quantizes x (n values, n % 32 == 0) into n/32 blocks at out[0 ..). `what` names errors. */
export function quantizeBlocks(format: QuantFormat, x: Float32Array, out: Uint8Array, what = 'tensor'): void {
  const blockBytes = quantLayout[format].blockBytes;
  const signed = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / QK; b++) {
    const base = b * QK;
    const at = b * blockBytes;
    let amax = 0;
    let max = 0; // signed value of largest magnitude (first one on ties, as llama.cpp)
    for (let i = base; i < base + QK; i++) {
      const v = x[i]!;
      const a = v < 0 ? -v : v;
      if (a > amax) {
        amax = a;
        max = v;
      }
    }
    const d = scale(format === 'q8_0' ? amax / 127 : max / -8, what);
    const id = d.value ? 1 / d.value : 0;
    out[at] = d.bits & 0xff; // little-endian f16
    out[at + 1] = d.bits >> 8;
    if (format === 'q8_0') {
      for (let i = 0; i < QK; i++) {
        // Round half away from zero, as C's roundf (`| 0` truncates toward zero); |q| ≤ 127
        // up to the f16 rounding of d.
        const v = x[base + i]! * id;
        const q = (v + (v < 0 ? -0.5 : 0.5)) | 0;
        signed[at + 2 + i] = q > 127 ? 127 : q < -127 ? -127 : q;
      }
    } else {
      for (let j = 0; j < QK / 2; j++) {
        // ⌊v + 8.5⌋ as llama.cpp's (int8_t) cast: v + 8.5 ≥ 0 up to the f16 rounding of d,
        // where truncation is the floor (and a tiny negative clamps to 0 either way).
        const lo = (x[base + j]! * id + 8.5) | 0;
        const hi = (x[base + j + QK / 2]! * id + 8.5) | 0;
        out[at + 2 + j] = (lo < 0 ? 0 : lo > 15 ? 15 : lo) | ((hi < 0 ? 0 : hi > 15 ? 15 : hi) << 4);
      }
    }
  }
}

/** The inverse: n/32 blocks → n values d·q (exact in f32: 11-bit scale × ≤ 8-bit integer). */
export function dequantizeBlocks(format: QuantFormat, bytes: Uint8Array, out: Float32Array): void {
  const blockBytes = quantLayout[format].blockBytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < out.length / QK; b++) {
    const at = b * blockBytes;
    const d = halfTable[view.getUint16(at, true)]!;
    const base = b * QK;
    if (format === 'q8_0') {
      for (let i = 0; i < QK; i++) out[base + i] = d * view.getInt8(at + 2 + i);
    } else {
      for (let j = 0; j < QK / 2; j++) {
        const byte = bytes[at + 2 + j]!;
        out[base + j] = d * ((byte & 0x0f) - 8);
        out[base + j + QK / 2] = d * ((byte >> 4) - 8);
      }
    }
  }
}
