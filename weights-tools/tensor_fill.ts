// Fast deterministic tensor contents. Drawing a float and encoding it per element would cost
// minutes for the 1.5 B-parameter presets, so each tensor gets a table of 4096 values already
// encoded in the target dtype, and elements index that table with 12-bit slices of a 32-bit
// PRNG (two elements per draw). Uniform levels in [c − a, c + a] have std ≈ a/√3.
import { bf16Bits, f16Bits, f32Bits } from './float_encode.ts';
import type { WeightDtype } from './make_tiny_options.ts';
import { Sfc32 } from '../src/node/prng.ts';
import type { TensorInit } from './tensor_plan.ts';

const tableBits = 12;
const tableSize = 1 << tableBits; // 4096
const indexMask = tableSize - 1;

/** How each dtype is named in a safetensors header and how wide one element is. */
export const dtypeLayout = {
  f32: { safetensors: 'F32', bytes: 4 },
  f16: { safetensors: 'F16', bytes: 2 },
  bf16: { safetensors: 'BF16', bytes: 2 },
} as const satisfies Record<WeightDtype, { safetensors: string; bytes: number }>;

/** Encoded elements of one dtype: 16-bit for f16/bf16, 32-bit for f32. */
export type EncodedArray = Uint16Array | Uint32Array;

export function allocateEncoded(dtype: WeightDtype, elements: number): EncodedArray {
  return dtypeLayout[dtype].bytes === 2 ? new Uint16Array(elements) : new Uint32Array(elements);
}

function valueTable(init: TensorInit, dtype: WeightDtype): EncodedArray {
  const halfWidth = init.std * Math.sqrt(3);
  const encode = dtype === 'f32' ? f32Bits : dtype === 'f16' ? f16Bits : bf16Bits;
  const table = allocateEncoded(dtype, tableSize);
  for (let i = 0; i < tableSize; i++) {
    // Level centres of tableSize equal bins over [−1, 1]: symmetric, zero mean.
    const unit = (2 * i + 1) / tableSize - 1;
    table[i] = encode(init.center + halfWidth * unit);
  }
  return table;
}

/**
 * Streams one tensor's elements. Element 2m takes the low 12 bits of draw m and element
 * 2m + 1 bits 16..27, whatever the chunk sizes: the contents never depend on how the writer
 * chunks them.
 */
export class TensorFiller {
  private readonly table: EncodedArray;
  private readonly rng: Sfc32;
  /** Table index left over from a draw whose second element did not fit the last chunk. */
  private spare = -1;

  constructor(name: string, init: TensorInit, dtype: WeightDtype, seed: number) {
    this.table = valueTable(init, dtype);
    this.rng = Sfc32.forTensor(seed, name);
  }

  /** Writes the next `count` elements into out[0 .. count). */
  fill(out: EncodedArray, count: number): void {
    const table = this.table;
    let i = 0;
    if (this.spare >= 0 && count > 0) {
      out[0] = table[this.spare];
      this.spare = -1;
      i = 1;
    }
    // sfc32 inlined with its state in locals: this loop is the whole cost of make-tiny.
    const rng = this.rng;
    let a = rng.a;
    let b = rng.b;
    let c = rng.c;
    let counter = rng.counter;
    for (; i + 1 < count; i += 2) {
      const draw = (((a + b) | 0) + counter) | 0;
      counter = (counter + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + draw) | 0;
      out[i] = table[draw & indexMask];
      out[i + 1] = table[(draw >>> 16) & indexMask];
    }
    rng.a = a;
    rng.b = b;
    rng.c = c;
    rng.counter = counter;
    if (i < count) {
      // Odd count: this draw's second half starts the next chunk.
      const draw = rng.next();
      out[i] = table[draw & indexMask];
      this.spare = (draw >>> 16) & indexMask;
    }
  }
}
