// AVX2 integer kernels for Q8_0 / Q4_0 weights: kernels_scalar.cpp's quantized code,
// vectorized with the same float operations in the same order (bit-identical results).
#include "kernels_isa.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))

AVX2_FN static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_FN void avx2_quantize_act(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    // packs_epi32/epi16 interleave 128-bit lanes; this puts the four-byte groups back in order.
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < n / QK; b++) {
        __m256 v[4];
        for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + b * QK + 8 * k);
        __m256 m = _mm256_andnot_ps(sign, v[0]);
        for (int k = 1; k < 4; k++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = d;
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        const __m256i q8 = _mm256_permutevar8x32_epi32(q16, order);
        _mm256_storeu_si256((__m256i*)out[b].qs, q8);
        const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q8), _mm256_set1_epi16(1));
        _mm256_storeu_si256((__m256i*)(lane_sum8 + b * 8), _mm256_slli_epi32(sums, 3));
    }
}

// maddubs multiplies unsigned bytes by signed ones and sums pairs into int16. Two ways to
// get Σ q_w·q_x from it, with the same exact integers (so either may be used anywhere):
//   sign trick: |q_w| times q_x with q_w's sign; pairs fit int16 (≤ 2·128·127).
//   Q4_0 unsigned: the nibbles n as they are, Σ (n − 8)·q_x = Σ n·q_x − 8·Σ q_x, the last
//     term precomputed per lane (lane_sum8). Decode uses it: fewer instructions, and Q4_0
//     decode is bound by instructions, not memory. Prefill shares a prepared weight block
//     among 4 tokens and uses the sign trick, so it never reads lane_sum8.
struct signed_prep {
    __m256i abs, sign;
};
AVX2_FN static inline signed_prep sign_prep(__m256i q) { return {_mm256_sign_epi8(q, q), q}; }

// Q4_0 block → its nibbles n: the 16 bytes in both halves, the upper half shifted right 4:
// bytes 0..15 ← low nibbles (elements 0..15), bytes 16..31 ← high nibbles (16..31).
AVX2_FN static inline __m256i nibbles(const block_q4_0& w) {
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)w.qs));
    return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

template <int NT>
AVX2_FN static inline signed_prep prepare(const block_q8_0& w) {
    return sign_prep(_mm256_loadu_si256((const __m256i*)w.qs));
}
template <int NT>
AVX2_FN static inline auto prepare(const block_q4_0& w) {
    if constexpr (NT == 1) return nibbles(w);
    else return sign_prep(_mm256_sub_epi8(nibbles(w), _mm256_set1_epi8(8)));
}

// The 8 exact lane sums of one block, lane j = Σ_{i=4j}^{4j+3} q_w[i]·q_x[i].
AVX2_FN static inline __m256i lane_sums(const signed_prep& w, const block_q8_act& x, const int32_t*) {
    const __m256i qx = _mm256_loadu_si256((const __m256i*)x.qs);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(qx, w.sign)), _mm256_set1_epi16(1));
}
AVX2_FN static inline __m256i lane_sums(const __m256i& n, const block_q8_act& x, const int32_t* lane_sum8) {
    const __m256i p16 = _mm256_maddubs_epi16(n, _mm256_loadu_si256((const __m256i*)x.qs));  // pairs ≤ 2·15·127
    const __m256i p32 = _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
    return _mm256_sub_epi32(p32, _mm256_loadu_si256((const __m256i*)lane_sum8));
}

// acc[t] += (lane sums of block b of w with block b of token t) · d_w·d_x, for NT tokens.
template <int NT, typename B>
AVX2_FN static inline void accumulate(__m256* acc, const B& w, const block_q8_act* const* x, const int32_t* const* xsum,
                                      int64_t b) {
    const auto prepared = prepare<NT>(w);
    const float dw = _cvtsh_ss(w.d);
    for (int t = 0; t < NT; t++) {
        const block_q8_act& xt = x[t][b];
        const __m256i sums = lane_sums(prepared, xt, xsum[t] + b * 8);
        acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(dw * xt.d)));
    }
}

// Row r against NT tokens: even blocks into a0, odd into a1, then hsum(a0 + a1). NT = 1 is
// decode. Every token goes through the same float operations in the same order whatever NT
// is, so results never depend on how a step's tokens are grouped (batch invariance).
template <int NT, typename B>
AVX2_FN static void dot_tokens(float* y, int64_t ldy, const qact_rows& x, int t0, const B* w, int64_t r) {
    const int64_t nb = x.nb;
    const block_q8_act* xs[NT];
    const int32_t* ss[NT];
    for (int t = 0; t < NT; t++) {
        xs[t] = x.xq + x.at(t0 + t) * nb;
        ss[t] = x.xsum + x.at(t0 + t) * nb * 8;
    }
    __m256 a0[NT], a1[NT];
    for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        accumulate<NT>(a0, w[b], xs, ss, b);
        accumulate<NT>(a1, w[b + 1], xs, ss, b + 1);
    }
    if (b < nb) accumulate<NT>(a0, w[b], xs, ss, b);
    for (int t = 0; t < NT; t++) y[(t0 + t) * ldy + r] = hsum(_mm256_add_ps(a0[t], a1[t]));
}

// Decode: row by row, each a sequential stream for the prefetcher. Prefill: groups of 4
// tokens against the tile's rows in turn, so the group's activations stay in L1 while the
// few rows are re-read from L1 too; leftover tokens one by one.
template <typename B>
AVX2_FN static void rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0, int nr) {
    const B* wrows = (const B*)w.data;
    const int64_t nb = x.nb;
    int t = 0;
    for (; t + 4 <= T; t += 4)
        for (int64_t r = r0; r < r0 + nr; r++) dot_tokens<4>(y, ldy, x, t, wrows + r * nb, r);
    for (int64_t r = r0; r < r0 + nr; r++)
        for (int u = t; u < T; u++) dot_tokens<1>(y, ldy, x, u, wrows + r * nb, r);
}

AVX2_FN void avx2_quant_matmul_rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0, int nr) {
    if (w.dtype == DT_Q8_0) rows<block_q8_0>(y, ldy, x, T, w, r0, nr);
    else rows<block_q4_0>(y, ldy, x, T, w, r0, nr);
}
#endif
