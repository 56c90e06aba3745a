// AVX2 / FMA / F16C float kernels. Every function carries its target attribute, so nothing
// compiled here runs unless the CPU was checked for it (kernels_select.cpp).
#include "kernels_isa.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))

template <int D>
AVX2_FN static inline __m256 load8(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return _mm256_loadu_ps((const float*)base + i);
    if constexpr (D == DT_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)base + i)));
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)((const uint16_t*)base + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

AVX2_FN static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <int D>
AVX2_FN static void widen(const tensor& w, int64_t row, float* dst) {
    const int64_t K = w.cols, base = row * K;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) _mm256_storeu_ps(dst + k, load8<D>(w.data, base + k));
    for (; k < K; k++) dst[k] = elem<D>(w.data, base + k);
}

AVX2_FN void avx2_widen_row(const tensor& w, int64_t row, float* dst) {
    switch (w.dtype) {
        case DT_F32: return widen<DT_F32>(w, row, dst);
        case DT_F16: return widen<DT_F16>(w, row, dst);
        case DT_BF16: return widen<DT_BF16>(w, row, dst);
        default: return tensor_row_to_f32(w, row, dst);
    }
}

// Few tokens (decode): one weight row at a time, straight from its stored dtype, with four
// independent accumulators. Memory-bound: reading each row as one sequential stream keeps
// the hardware prefetcher ahead (interleaving 4 rows measured ~30% slower on 1024-wide f16
// rows); a second token re-reads the row from L1.
template <int D>
AVX2_FN static void row_direct(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r) {
    const int64_t K = w.cols, base = r * K;
    for (int t = 0; t < T; t++) {
        const float* xt = x.row(t);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t k = 0;
        for (; k + 32 <= K; k += 32) {
            a0 = _mm256_fmadd_ps(load8<D>(w.data, base + k), _mm256_loadu_ps(xt + k), a0);
            a1 = _mm256_fmadd_ps(load8<D>(w.data, base + k + 8), _mm256_loadu_ps(xt + k + 8), a1);
            a2 = _mm256_fmadd_ps(load8<D>(w.data, base + k + 16), _mm256_loadu_ps(xt + k + 16), a2);
            a3 = _mm256_fmadd_ps(load8<D>(w.data, base + k + 24), _mm256_loadu_ps(xt + k + 24), a3);
        }
        for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(load8<D>(w.data, base + k), _mm256_loadu_ps(xt + k), a0);
        float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; k < K; k++) s += elem<D>(w.data, base + k) * xt[k];
        y[t * ldy + r] = s;
    }
}

// Many tokens (prefill): one widened f32 row against NT tokens per pass, each loaded weight
// vector feeding NT FMAs. The summation order is row_direct's exactly — four 8-lane partial
// sums over blocks of 32, an 8-wide remainder into the first, then a scalar tail — so a
// token's outputs are bit-identical whichever path its step takes (batch invariance).
template <int NT>
AVX2_FN static void row_tokens(float* y, int64_t ldy, const float* const* xs, int64_t K, const float* wrow, int64_t r) {
    __m256 acc[NT][4];
    for (int t = 0; t < NT; t++)
        for (int j = 0; j < 4; j++) acc[t][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32)
        for (int j = 0; j < 4; j++) {
            const __m256 wv = _mm256_loadu_ps(wrow + k + 8 * j);
            for (int t = 0; t < NT; t++) acc[t][j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs[t] + k + 8 * j), acc[t][j]);
        }
    for (; k + 8 <= K; k += 8) {
        const __m256 wv = _mm256_loadu_ps(wrow + k);
        for (int t = 0; t < NT; t++) acc[t][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs[t] + k), acc[t][0]);
    }
    for (int t = 0; t < NT; t++) {
        float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
        for (int64_t kk = k; kk < K; kk++) s += wrow[kk] * xs[t][kk];
        y[t * ldy + r] = s;
    }
}

static const int DIRECT_MAX_TOKENS = 2;  // up to this, widening a row to f32 first does not pay

AVX2_FN void avx2_matmul_rows(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r0, int nr,
                              float* scratch) {
    const int64_t K = w.cols;
    for (int64_t r = r0; r < r0 + nr; r++) {
        if (T <= DIRECT_MAX_TOKENS) {
            switch (w.dtype) {
                case DT_F32: row_direct<DT_F32>(y, ldy, x, T, w, r); break;
                case DT_F16: row_direct<DT_F16>(y, ldy, x, T, w, r); break;
                case DT_BF16: row_direct<DT_BF16>(y, ldy, x, T, w, r); break;
                default: break;
            }
            continue;
        }
        // Widen the row once (f32 rows are used in place) and reuse it for every token.
        const float* wrow = (const float*)w.data + r * K;
        if (w.dtype != DT_F32) {
            avx2_widen_row(w, r, scratch);
            wrow = scratch;
        }
        int t = 0;
        for (; t + 3 <= T; t += 3) {
            const float* xs[3] = {x.row(t), x.row(t + 1), x.row(t + 2)};
            row_tokens<3>(y + t * ldy, ldy, xs, K, wrow, r);
        }
        for (; t < T; t++) {
            const float* xs[1] = {x.row(t)};
            row_tokens<1>(y + t * ldy, ldy, xs, K, wrow, r);
        }
    }
}

AVX2_FN float avx2_dot(const float* a, const float* b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), acc1);
    }
    for (; k + 8 <= n; k += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; k < n; k++) s += a[k] * b[k];
    return s;
}

AVX2_FN void avx2_axpy(float* y, float a, const float* x, int n) {
    const __m256 av = _mm256_set1_ps(a);
    int k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

AVX2_FN float avx2_dot_f16(const float* a, const uint16_t* b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8<DT_F16>(b, k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), load8<DT_F16>(b, k + 8), acc1);
    }
    for (; k + 8 <= n; k += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8<DT_F16>(b, k), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; k < n; k++) s += a[k] * f16_to_f32(b[k]);
    return s;
}

AVX2_FN void avx2_axpy_f16(float* y, float a, const uint16_t* x, int n) {
    const __m256 av = _mm256_set1_ps(a);
    int k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, load8<DT_F16>(x, k), _mm256_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * f16_to_f32(x[k]);
}
// 10 independent chains cover the FMA latency (4–5 cycles) times two ports.
AVX2_FN double avx2_fma_probe(int64_t iters, float* sink) {
    __m256 a[10];
    for (auto& v : a) v = _mm256_set1_ps(1.0f);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = _mm256_fmadd_ps(v, m, c);
    __m256 s = a[0];
    for (int j = 1; j < 10; j++) s = _mm256_add_ps(s, a[j]);
    *sink += hsum(s);
    return 2.0 * 8 * 10 * (double)iters;
}
#endif
