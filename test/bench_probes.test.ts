// The peaks the bench reads prefill against (bench/bench.ts), measured by each kernel table's
// own probes: FMA and int8 on every table; a BF16 tile peak only where BF16 matmuls run on a
// unit of the table's own (avx512_amx: AMX), 0 elsewhere; an unknown table reads < 0.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableIsas, cpuTuning, nativeAddon } from '../src/engine/native.ts';

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

  // The per-CPU choices the bench's header names (kernels_select.cpp), read here from what
  // Linux says of the CPU: AMD family 19h (25) is Zen 4's tuning, other AMD families Zen 5's.
  it.runIf(process.arch === 'x64' && process.platform === 'linux')('names the CPU whose measurements the AVX-512 choices follow', () => {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(info)?.[1];
    const family = Number(/^cpu family\s*:\s*(\d+)/m.exec(info)?.[1]);
    expect(cpuTuning()).toBe(vendor === 'AuthenticAMD' ? (family === 25 ? 'zen4' : 'zen5') : 'intel');
  });
});
