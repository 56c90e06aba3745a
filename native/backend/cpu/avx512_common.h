// What the AVX-512 kernel files share: the target attribute (nothing compiled with it runs
// unless the CPU was checked for it, kernels_select.cpp), tail masks and the tables' exp on
// 16 lanes.
#pragma once
// GCC 12's AVX-512 headers build their results from _mm512_undefined_*(), which it then flags.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels_isa.h"

#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

// The lanes of elements [d, d + 16) that lie below n.
inline __mmask16 tail_mask(int64_t n, int64_t d) { return (__mmask16)(n - d >= 16 ? 0xFFFF : (1u << (n - d)) - 1); }

// exp_poly (kernels_isa.h) on 16 lanes, 2ⁿ applied by vscalefps.
AVX512_FN inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(EXP_MIN), x);  // (a NaN x stays NaN)
    x = _mm512_min_ps(_mm512_set1_ps(EXP_MAX), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(EXP_POLY[5]);
    for (int i = 4; i >= 0; i--) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_POLY[i]));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}
