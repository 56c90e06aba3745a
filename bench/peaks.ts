// The compute ceilings the bench reads prefill against, measured by the kernel table's own
// probes in the same run: its f32 FMA peak, its int8 multiply-add peak (the ceiling of Q8_0 /
// Q4_0 prefill, which runs on the integer kernels) and, on a table whose BF16 matmuls run on a
// unit of its own (avx512_amx: AMX tiles), that unit's peak.
import { nativeAddon } from '../src/engine/native.ts';

export type PrefillPeak = { kind: 'FMA' | 'int8' | 'AMX'; gops: number; field: 'fma_peak_gflop_s' | 'int8_peak_gop_s' | 'bf16_peak_gflop_s' };
export type Peaks = { fmaGflops: number; int8Gops: number; bf16Gflops: number | null; prefill: PrefillPeak };

export function measurePeaks(isa: string, threads: number, dtype: string): Peaks {
  const addon = nativeAddon();
  const fmaGflops = addon.measureFmaPeak(isa, threads);
  const int8Gops = addon.measureInt8Peak(isa, threads);
  const bf16 = dtype === 'bf16' ? addon.measureBf16Peak(isa, threads) : 0;
  const bf16Gflops = bf16 > 0 ? bf16 : null;
  const prefill: PrefillPeak =
    dtype === 'q8_0' || dtype === 'q4_0'
      ? { kind: 'int8', gops: int8Gops, field: 'int8_peak_gop_s' }
      : bf16Gflops !== null
        ? { kind: 'AMX', gops: bf16Gflops, field: 'bf16_peak_gflop_s' }
        : { kind: 'FMA', gops: fmaGflops, field: 'fma_peak_gflop_s' };
  return { fmaGflops, int8Gops, bf16Gflops, prefill };
}
