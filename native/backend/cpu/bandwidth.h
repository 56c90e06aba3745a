// Measures memory read bandwidth the way decode reads weights: every thread streams its
// slice of a buffer much larger than the caches. Used by the benchmark for the roofline.
#pragma once
#include <cstddef>

#include "thread_pool.h"

// Best of `reps` passes over a `bytes` buffer, in GB/s (1e9 bytes per second).
double bandwidth_measure_read(thread_pool* pool, size_t bytes, int reps);
// The same on a pool of `threads` started for the measurement.
double bandwidth_measure_read_threads(size_t bytes, int threads, int reps);

// Peak f32 FMA throughput of kernel table `isa` ("" = best) on `threads` threads, in GFLOP/s:
// the prefill ceiling the benchmark reports against. < 0 if the table is not available.
double fma_peak_measure(const char* isa, int threads);
// Peak int8 multiply-add throughput (2 operations per product) of the table's integer kernels,
// in GOP/s: the ceiling for Q8_0 / Q4_0 prefill.
double int8_peak_measure(const char* isa, int threads);
// Peak of the unit the table's BF16 matmuls run on where it has one of its own (AMX tiles), in
// GFLOP/s: the ceiling for its BF16 prefill. 0 where they run on the FMA kernels, < 0 likewise.
double bf16_peak_measure(const char* isa, int threads);
