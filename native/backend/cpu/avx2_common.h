// What the AVX2 kernel files share: the target attribute (nothing compiled with it runs
// unless the CPU was checked for it, kernels_select.cpp) and the store of a partial panel.
#pragma once
#include <immintrin.h>

#include <cstdint>

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))

// The first n (≤ 8) lanes of v to out: rows past the matrix's last are not written.
AVX2_FN inline void store_lanes(float* out, __m256 v, int64_t n) {
    if (n >= 8) return _mm256_storeu_ps(out, v);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, v);
    for (int64_t i = 0; i < n; i++) out[i] = lanes[i];
}
