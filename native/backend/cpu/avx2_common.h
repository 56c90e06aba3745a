// What the AVX2 kernel files share: the target attribute (nothing compiled with it runs
// unless the CPU was checked for it, kernels_select.cpp), the tables' exp on 8 lanes and the
// load and store of a partial panel.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "kernels_isa.h"

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))

// Put before every loop over a tile's accumulators (and the vectors feeding them). GCC 12 at
// -O3 leaves such a loop rolled until after it has decided the array lives in memory; then,
// as __m256 may alias the floats the tile loads, it stores every accumulator to the stack on
// every step of k (a 1 × 6 F16 tile: 12 FMAs and 12 stores a column). Unrolled early, the
// array becomes registers.
#define UNROLL_TILE _Pragma("GCC unroll 16")

// exp_poly (kernels_isa.h) on 8 lanes, 2ⁿ built in the exponent bits.
AVX2_FN inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(EXP_MIN), x);  // (a NaN x stays NaN)
    x = _mm256_min_ps(_mm256_set1_ps(EXP_MAX), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_POLY[5]);
    for (int i = 4; i >= 0; i--) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_POLY[i]));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// The mask of lanes below n (0 ≤ n < 8): a partial panel's rows.
AVX2_FN inline __m256i lanes_below(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first n (≤ 8) lanes of v to out: rows past the matrix's last are not written.
AVX2_FN inline void store_lanes(float* out, __m256 v, int64_t n) {
    if (n >= 8) return _mm256_storeu_ps(out, v);
    _mm256_maskstore_ps(out, lanes_below(n), v);
}

// The first n (≤ 8) lanes at `at`, zero for the rest.
AVX2_FN inline __m256 load_lanes(const float* at, int64_t n) {
    if (n >= 8) return _mm256_loadu_ps(at);
    return _mm256_maskload_ps(at, lanes_below(n));
}
