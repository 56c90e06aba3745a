// The peaks the bench reads prefill against (bench/bench.ts), measured by each kernel table's
// own probes: FMA and int8 on every table; a BF16 tile peak only where BF16 matmuls run on a
// unit of the table's own (avx512_amx: AMX), 0 elsewhere; an unknown table reads < 0.
import { describe, expect, it } from 'vitest';
import { availableIsas, nativeAddon } from '../src/engine/native.ts';

describe('bench peak probes', () => {
  it.each(availableIsas())('%s: FMA and int8 peaks positive, a BF16 tile peak on AMX alone', (isa) => {
    const addon = nativeAddon();
    expect(addon.measureFmaPeak(isa, 1)).toBeGreaterThan(0);
    expect(addon.measureInt8Peak(isa, 1)).toBeGreaterThan(0);
    const bf16 = addon.measureBf16Peak(isa, 1);
    if (isa === 'avx512_amx') expect(bf16).toBeGreaterThan(addon.measureFmaPeak(isa, 1));
    else expect(bf16).toBe(0);
  });

  it('a table this build lacks reads < 0', () => {
    expect(nativeAddon().measureBf16Peak('neon', 1)).toBeLessThan(0);
    expect(nativeAddon().measureFmaPeak('neon', 1)).toBeLessThan(0);
  });
});
