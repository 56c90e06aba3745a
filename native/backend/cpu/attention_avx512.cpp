// AVX-512 attention kernels (kernels.h): each key or value row is loaded once for all the
// query heads that share it, 16 elements of head_dim to a vector (a masked tail for the rest).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx512_common.h"

// Elements [d, d + 16) of a row (those below D), f16 or f32, as f32.
AVX512_FN static inline __m512 load_row(const void* row, bool f16, int d, __mmask16 m) {
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t*)row + d));
    return _mm512_maskz_loadu_ps(m, (const float*)row + d);
}
static inline __mmask16 tail_mask(int D, int d) { return (__mmask16)(D - d >= 16 ? 0xFFFF : (1u << (D - d)) - 1); }

template <int G>
AVX512_FN static void scores(float* s, int64_t lds, const float* q, int D, const void* const* keys, bool f16, int n,
                             float scale) {
    for (int j = 0; j < n; j++) {
        __m512 acc[G];
        for (int r = 0; r < G; r++) acc[r] = _mm512_setzero_ps();
        for (int d = 0; d < D; d += 16) {
            const __mmask16 m = tail_mask(D, d);
            const __m512 kv = load_row(keys[j], f16, d, m);
            for (int r = 0; r < G; r++) acc[r] = _mm512_fmadd_ps(kv, _mm512_maskz_loadu_ps(m, q + r * D + d), acc[r]);
        }
        for (int r = 0; r < G; r++) s[r * lds + j] = scale * _mm512_reduce_add_ps(acc[r]);
    }
}

AVX512_FN void avx512_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const void* const* keys, bool f16,
                                  int n, float scale) {
    switch (G) {
        case 1: return scores<1>(s, lds, q, D, keys, f16, n, scale);
        case 2: return scores<2>(s, lds, q, D, keys, f16, n, scale);
        case 4: return scores<4>(s, lds, q, D, keys, f16, n, scale);
        case 8: return scores<8>(s, lds, q, D, keys, f16, n, scale);
        default:
            for (int r = 0; r < G; r++) scores<1>(s + r * lds, lds, q + r * D, D, keys, f16, n, scale);
    }
}

// Columns [d0, d0 + 16·C) of the G outputs held in registers while every value streams by.
template <int G, int C>
AVX512_FN static void values(float* o, const float* w, int64_t ldw, int D, const void* const* rows, bool f16, int n) {
    for (int d0 = 0; d0 < D; d0 += 16 * C) {
        __mmask16 m[C];
        for (int c = 0; c < C; c++) m[c] = d0 + 16 * c < D ? tail_mask(D, d0 + 16 * c) : 0;
        __m512 acc[G][C];
        for (int r = 0; r < G; r++)
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_maskz_loadu_ps(m[c], o + r * D + d0 + 16 * c);
        for (int j = 0; j < n; j++) {
            __m512 v[C];
            for (int c = 0; c < C; c++) v[c] = load_row(rows[j], f16, d0 + 16 * c, m[c]);
            for (int r = 0; r < G; r++) {
                const __m512 wb = _mm512_set1_ps(w[r * ldw + j]);
                for (int c = 0; c < C; c++) acc[r][c] = _mm512_fmadd_ps(v[c], wb, acc[r][c]);
            }
        }
        for (int r = 0; r < G; r++)
            for (int c = 0; c < C; c++) _mm512_mask_storeu_ps(o + r * D + d0 + 16 * c, m[c], acc[r][c]);
    }
}

AVX512_FN void avx512_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const void* const* rows, bool f16,
                                  int n) {
    switch (G) {
        case 1: return values<1, 8>(o, w, ldw, D, rows, f16, n);
        case 2: return values<2, 8>(o, w, ldw, D, rows, f16, n);
        case 4: return values<4, 4>(o, w, ldw, D, rows, f16, n);
        case 8: return values<8, 2>(o, w, ldw, D, rows, f16, n);
        default:
            for (int r = 0; r < G; r++) values<1, 8>(o + r * D, w + r * ldw, ldw, D, rows, f16, n);
    }
}
#endif
