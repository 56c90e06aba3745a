// AVX-512 (F, BW, VL, VNNI) kernels. Float weights: 16 lanes, four accumulators, so results
// differ from the AVX2 table at float rounding (each table is consistent with itself).
// Quantized weights: one 512-bit register holds two blocks — block b in the low 8 lanes,
// block b + 1 in the high 8 — which are exactly the scalar code's two alternating
// accumulators, so results stay bit-identical to the scalar and AVX2 tables.
#include <type_traits>

#include "kernels_isa.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 headers build their results from _mm512_undefined_*(), which it then flags.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

template <int D>
AVX512_FN static inline __m512 load16(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return _mm512_loadu_ps((const float*)base + i);
    if constexpr (D == DT_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)((const uint16_t*)base + i)));
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)((const uint16_t*)base + i)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

template <int D>
AVX512_FN static void widen(const tensor& w, int64_t row, float* dst) {
    const int64_t K = w.cols, base = row * K;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) _mm512_storeu_ps(dst + k, load16<D>(w.data, base + k));
    for (; k < K; k++) dst[k] = elem<D>(w.data, base + k);
}

AVX512_FN void avx512_widen_row(const tensor& w, int64_t row, float* dst) {
    switch (w.dtype) {
        case DT_F32: return widen<DT_F32>(w, row, dst);
        case DT_F16: return widen<DT_F16>(w, row, dst);
        case DT_BF16: return widen<DT_BF16>(w, row, dst);
        default: return tensor_row_to_f32(w, row, dst);
    }
}

// Decode: one row at a time from its stored dtype; four 16-lane accumulators over blocks of
// 64, a 16-wide remainder into the first, the fixed reduction, then a scalar tail.
template <int D>
AVX512_FN static void row_direct(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r) {
    const int64_t K = w.cols, base = r * K;
    for (int t = 0; t < T; t++) {
        const float* xt = x.row(t);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t k = 0;
        for (; k + 64 <= K; k += 64) {
            a0 = _mm512_fmadd_ps(load16<D>(w.data, base + k), _mm512_loadu_ps(xt + k), a0);
            a1 = _mm512_fmadd_ps(load16<D>(w.data, base + k + 16), _mm512_loadu_ps(xt + k + 16), a1);
            a2 = _mm512_fmadd_ps(load16<D>(w.data, base + k + 32), _mm512_loadu_ps(xt + k + 32), a2);
            a3 = _mm512_fmadd_ps(load16<D>(w.data, base + k + 48), _mm512_loadu_ps(xt + k + 48), a3);
        }
        for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(load16<D>(w.data, base + k), _mm512_loadu_ps(xt + k), a0);
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        for (; k < K; k++) s += elem<D>(w.data, base + k) * xt[k];
        y[t * ldy + r] = s;
    }
}

// Prefill: a widened row against NT tokens, in row_direct's summation order exactly.
template <int NT>
AVX512_FN static void row_tokens(float* y, int64_t ldy, const float* const* xs, int64_t K, const float* wrow, int64_t r) {
    __m512 acc[NT][4];
    for (int t = 0; t < NT; t++)
        for (int j = 0; j < 4; j++) acc[t][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 64 <= K; k += 64)
        for (int j = 0; j < 4; j++) {
            const __m512 wv = _mm512_loadu_ps(wrow + k + 16 * j);
            for (int t = 0; t < NT; t++) acc[t][j] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xs[t] + k + 16 * j), acc[t][j]);
        }
    for (; k + 16 <= K; k += 16) {
        const __m512 wv = _mm512_loadu_ps(wrow + k);
        for (int t = 0; t < NT; t++) acc[t][0] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xs[t] + k), acc[t][0]);
    }
    for (int t = 0; t < NT; t++) {
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3])));
        for (int64_t kk = k; kk < K; kk++) s += wrow[kk] * xs[t][kk];
        y[t * ldy + r] = s;
    }
}

static const int DIRECT_MAX_TOKENS = 2;

AVX512_FN void avx512_matmul_rows(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r0, int nr,
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
        const float* wrow = (const float*)w.data + r * K;
        if (w.dtype != DT_F32) {
            avx512_widen_row(w, r, scratch);
            wrow = scratch;
        }
        int t = 0;
        for (; t + 4 <= T; t += 4) {
            const float* xs[4] = {x.row(t), x.row(t + 1), x.row(t + 2), x.row(t + 3)};
            row_tokens<4>(y + t * ldy, ldy, xs, K, wrow, r);
        }
        for (; t < T; t++) {
            const float* xs[1] = {x.row(t)};
            row_tokens<1>(y + t * ldy, ldy, xs, K, wrow, r);
        }
    }
}

AVX512_FN float avx512_dot(const float* a, const float* b, int n) {
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc);
    float s = _mm512_reduce_add_ps(acc);
    for (; k < n; k++) s += a[k] * b[k];
    return s;
}

AVX512_FN void avx512_axpy(float* y, float a, const float* x, int n) {
    const __m512 av = _mm512_set1_ps(a);
    int k = 0;
    for (; k + 16 <= n; k += 16) _mm512_storeu_ps(y + k, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + k), _mm512_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

AVX512_FN float avx512_dot_f16(const float* a, const uint16_t* b, int n) {
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), load16<DT_F16>(b, k), acc);
    float s = _mm512_reduce_add_ps(acc);
    for (; k < n; k++) s += a[k] * f16_to_f32(b[k]);
    return s;
}

AVX512_FN void avx512_axpy_f16(float* y, float a, const uint16_t* x, int n) {
    const __m512 av = _mm512_set1_ps(a);
    int k = 0;
    for (; k + 16 <= n; k += 16) _mm512_storeu_ps(y + k, _mm512_fmadd_ps(av, load16<DT_F16>(x, k), _mm512_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * f16_to_f32(x[k]);
}

AVX512_FN double avx512_fma_probe(int64_t iters, float* sink) {
    __m512 a[10];
    for (auto& v : a) v = _mm512_set1_ps(1.0f);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = _mm512_fmadd_ps(v, m, c);
    __m512 s = a[0];
    for (int j = 1; j < 10; j++) s = _mm512_add_ps(s, a[j]);
    *sink += _mm512_reduce_add_ps(s);
    return 2.0 * 16 * 10 * (double)iters;
}

// ---------------------------------------------------------------- quantized
// Quantizing activations is the same integer result on every table; AVX2's is fast enough.
AVX512_FN void avx512_quantize_act(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8) {
    avx2_quantize_act(x, n, out, lane_sum8);
}

AVX512_FN static inline __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Two blocks' weights as int8 (Q8_0) or as nibbles (Q4_0), low half block b, high half b + 1.
AVX512_FN static inline __m512i weights2(const block_q8_0* w) {
    return join(_mm256_loadu_si256((const __m256i*)w[0].qs), _mm256_loadu_si256((const __m256i*)w[1].qs));
}
AVX512_FN static inline __m512i nibbles2(const block_q4_0* w) {
    // [raw_b | raw_b | raw_b1 | raw_b1] >> [0, 4, 0, 4] per 128-bit quarter, & 0x0F:
    // each block's bytes 0..15 ← low nibbles (elements 0..15), 16..31 ← high (16..31).
    const __m128i r0 = _mm_loadu_si128((const __m128i*)w[0].qs), r1 = _mm_loadu_si128((const __m128i*)w[1].qs);
    __m512i raw = _mm512_castsi128_si512(r0);
    raw = _mm512_inserti32x4(raw, r0, 1);
    raw = _mm512_inserti32x4(raw, r1, 2);
    raw = _mm512_inserti32x4(raw, r1, 3);
    const __m512i shift = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
    return _mm512_and_si512(_mm512_srlv_epi64(raw, shift), _mm512_set1_epi8(0x0F));
}

// Exact lane sums of two blocks (16 lanes): Σ_{i=4j}^{4j+3} q_w[i]·q_x[i], by VNNI.
// Signed weights: |q_w| (unsigned) times q_x with q_w's sign, as AVX2's sign trick.
AVX512_FN static inline __m512i lane_sums_signed(__m512i qw, __m512i qx) {
    const __mmask64 neg = _mm512_movepi8_mask(qw);
    const __m512i sx = _mm512_mask_sub_epi8(qx, neg, _mm512_setzero_si512(), qx);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(qw), sx);
}
// Q4_0 nibbles n unsigned: Σ n·q_x − 8·Σ q_x, the last term from lane_sum8.
AVX512_FN static inline __m512i lane_sums_nibbles(__m512i n, __m512i qx, const int32_t* lane_sum8) {
    return _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), n, qx), _mm512_loadu_si512(lane_sum8));
}

AVX512_FN static inline float scale_of(const block_q8_0& w) { return _cvtsh_ss(w.d); }
AVX512_FN static inline float scale_of(const block_q4_0& w) { return _cvtsh_ss(w.d); }

// The 8 + 8 lanes of acc → quant_finish_lanes(low, high), as AVX2's hsum(a0 + a1).
AVX512_FN static inline float finish(__m512 acc) {
    const __m256 v = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Row r against NT tokens, two blocks per iteration; an odd last block goes to the low half
// (the even accumulator) alone, with the high half untouched.
template <int NT, typename B>
AVX512_FN static void dot_tokens(float* y, int64_t ldy, const qact_rows& x, int t0, const B* w, int64_t r) {
    const int64_t nb = x.nb;
    const block_q8_act* xs[NT];
    const int32_t* ss[NT];
    for (int t = 0; t < NT; t++) {
        xs[t] = x.xq + x.at(t0 + t) * nb;
        ss[t] = x.xsum + x.at(t0 + t) * nb * 8;
    }
    constexpr bool nib = std::is_same<B, block_q4_0>::value && NT == 1;  // see quant_avx2.cpp
    __m512 acc[NT];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i qw;
        if constexpr (std::is_same<B, block_q8_0>::value) qw = weights2(w + b);
        else if constexpr (nib) qw = nibbles2(w + b);
        else qw = _mm512_sub_epi8(nibbles2(w + b), _mm512_set1_epi8(8));
        const float d0 = scale_of(w[b]), d1 = scale_of(w[b + 1]);
        for (int t = 0; t < NT; t++) {
            const __m512i qx = join(_mm256_loadu_si256((const __m256i*)xs[t][b].qs), _mm256_loadu_si256((const __m256i*)xs[t][b + 1].qs));
            __m512i sums;
            if constexpr (nib) sums = lane_sums_nibbles(qw, qx, ss[t] + b * 8);
            else sums = lane_sums_signed(qw, qx);
            const __m512 sc = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0 * xs[t][b].d), _mm512_set1_ps(d1 * xs[t][b + 1].d));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(sums), sc));
        }
    }
    if (b < nb) {  // the odd block: low half only
        __m512i qw;
        if constexpr (std::is_same<B, block_q8_0>::value) qw = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)w[b].qs));
        else {
            const block_q4_0 pair[2] = {w[b], w[b]};
            qw = nib ? nibbles2(pair) : _mm512_sub_epi8(nibbles2(pair), _mm512_set1_epi8(8));
        }
        const float d0 = scale_of(w[b]);
        for (int t = 0; t < NT; t++) {
            const __m512i qx = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)xs[t][b].qs));
            __m512i sums;
            if constexpr (nib) {
                alignas(64) int32_t ls[16] = {};
                for (int j = 0; j < 8; j++) ls[j] = ss[t][b * 8 + j];
                sums = lane_sums_nibbles(qw, qx, ls);
            } else {
                sums = lane_sums_signed(qw, qx);
            }
            const __m512 sc = _mm512_maskz_mov_ps(0x00FF, _mm512_set1_ps(d0 * xs[t][b].d));
            const __m512 add = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), sc);
            acc[t] = _mm512_mask_add_ps(acc[t], 0x00FF, acc[t], add);
        }
    }
    for (int t = 0; t < NT; t++) y[(t0 + t) * ldy + r] = finish(acc[t]);
}

template <typename B>
AVX512_FN static void rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0, int nr) {
    const B* wrows = (const B*)w.data;
    const int64_t nb = x.nb;
    int t = 0;
    for (; t + 4 <= T; t += 4)
        for (int64_t r = r0; r < r0 + nr; r++) dot_tokens<4>(y, ldy, x, t, wrows + r * nb, r);
    for (int64_t r = r0; r < r0 + nr; r++)
        for (int u = t; u < T; u++) dot_tokens<1>(y, ldy, x, u, wrows + r * nb, r);
}

AVX512_FN void avx512_quant_matmul_rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0,
                                        int nr) {
    if (w.dtype == DT_Q8_0) rows<block_q8_0>(y, ldy, x, T, w, r0, nr);
    else rows<block_q4_0>(y, ldy, x, T, w, r0, nr);
}
#endif
