#include "quant.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define SIROCCO_X86 1
#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#endif

int quant_block_bytes(dtype_t dt) {
    if (dt == DT_Q8_0) return (int)sizeof(block_q8_0);
    if (dt == DT_Q4_0) return (int)sizeof(block_q4_0);
    return 0;
}

// ---------------------------------------------------------------- scalar reference
// The AVX2 kernels below are this code vectorized; every float operation is the same one, in
// the same order, so the two agree bit for bit (checked by test/quantization.test.ts).

void quant_act_row_scalar(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8) {
    for (int64_t b = 0; b < n / QK; b++) {
        const float* v = x + b * QK;
        float amax = 0;
        for (int i = 0; i < QK; i++) amax = std::fmax(amax, std::fabs(v[i]));
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = d;
        // |v·id| ≤ 127 up to one rounding, which rounds back to 127: no clamp needed.
        for (int i = 0; i < QK; i++) out[b].qs[i] = (int8_t)std::nearbyint(v[i] * id);  // ties to even
        const int8_t* q = out[b].qs;
        for (int j = 0; j < 8; j++) lane_sum8[b * 8 + j] = 8 * (q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3]);
    }
}

// A block's 32 weights as int8, and its scale: Q8_0 as stored, Q4_0 unpacked to n − 8.
static inline float unpack(const block_q8_0& b, int8_t q[QK]) {
    std::memcpy(q, b.qs, QK);
    return f16_to_f32(b.d);
}

static inline float unpack(const block_q4_0& b, int8_t q[QK]) {
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (int8_t)((b.qs[j] & 0x0F) - 8);         // element j: low nibble
        q[j + QK / 2] = (int8_t)((b.qs[j] >> 4) - 8);  // element j + 16: high nibble
    }
    return f16_to_f32(b.d);
}

template <typename B>
static void row_f32(const tensor& w, int64_t row, float* dst) {
    const int64_t nb = w.cols / QK;
    const B* blocks = (const B*)w.data + row * nb;
    int8_t q[QK];
    for (int64_t b = 0; b < nb; b++) {
        const float d = unpack(blocks[b], q);
        for (int i = 0; i < QK; i++) dst[b * QK + i] = d * (float)q[i];
    }
}

void quant_row_f32(const tensor& w, int64_t row, float* dst) {
    if (w.dtype == DT_Q8_0) row_f32<block_q8_0>(w, row, dst);
    else row_f32<block_q4_0>(w, row, dst);
}

// The horizontal sum of the AVX2 path, written out: lanes of a0 + a1, then the two halves,
// then pairs (0,2) (1,3), then the last pair.
static inline float finish_lanes(const float a0[8], const float a1[8]) {
    float v[8], h[4];
    for (int j = 0; j < 8; j++) v[j] = a0[j] + a1[j];
    for (int j = 0; j < 4; j++) h[j] = v[j] + v[j + 4];
    return (h[0] + h[2]) + (h[1] + h[3]);
}

// One weight row against one activation row (nb blocks). Block b adds its 8 lane sums — lane
// j = Σ_{i=4j}^{4j+3} q_w[i]·q_x[i], exact in int32 — times d_w·d_x into accumulator b mod 2.
template <typename B>
static float dot_row_scalar(const B* w, const block_q8_act* x, int64_t nb) {
    float acc[2][8] = {};
    int8_t q[QK];
    for (int64_t b = 0; b < nb; b++) {
        const float d = unpack(w[b], q) * x[b].d;
        float* a = acc[b & 1];
        for (int j = 0; j < 8; j++) {
            int32_t s = 0;
            for (int i = 4 * j; i < 4 * j + 4; i++) s += (int32_t)q[i] * (int32_t)x[b].qs[i];
            a[j] = a[j] + (float)s * d;
        }
    }
    return finish_lanes(acc[0], acc[1]);
}

template <typename B>
static void rows_scalar(float* y, int64_t ldy, const block_q8_act* xq, int T, const tensor& w, int64_t r0, int nr) {
    const int64_t nb = w.cols / QK;
    for (int64_t r = r0; r < r0 + nr; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = dot_row_scalar((const B*)w.data + r * nb, xq + t * nb, nb);
}

void quant_rows_scalar(float* y, int64_t ldy, const block_q8_act* xq, const int32_t*, int T, const tensor& w,
                       int64_t r0, int nr) {
    if (w.dtype == DT_Q8_0) rows_scalar<block_q8_0>(y, ldy, xq, T, w, r0, nr);
    else rows_scalar<block_q4_0>(y, ldy, xq, T, w, r0, nr);
}

// ---------------------------------------------------------------- AVX2
#ifdef SIROCCO_X86
AVX2_FN static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_FN void quant_act_row_avx2(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8) {
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

// acc[t] += (lane sums of block w with token t's block) · d_w·d_x, for NT tokens whose blocks
// lie `stride` blocks apart.
template <int NT, typename B>
AVX2_FN static inline void accumulate(__m256* acc, const B& w, const block_q8_act* x, const int32_t* xsum, int64_t stride) {
    const auto prepared = prepare<NT>(w);
    const float dw = _cvtsh_ss(w.d);
    for (int t = 0; t < NT; t++) {
        const block_q8_act& xt = x[t * stride];
        const __m256i sums = lane_sums(prepared, xt, xsum + t * stride * 8);
        acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(dw * xt.d)));
    }
}

// Row r against NT tokens: even blocks into a0, odd into a1, then hsum(a0 + a1). NT = 1 is
// decode. Every token goes through the same float operations in the same order whatever NT
// is, so results never depend on how a step's tokens are grouped (batch invariance).
template <int NT, typename B>
AVX2_FN static void dot_tokens_avx2(float* y, int64_t ldy, const block_q8_act* x, const int32_t* xsum, int64_t nb,
                                    const B* w, int64_t r) {
    __m256 a0[NT], a1[NT];
    for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        accumulate<NT>(a0, w[b], x + b, xsum + b * 8, nb);
        accumulate<NT>(a1, w[b + 1], x + b + 1, xsum + (b + 1) * 8, nb);
    }
    if (b < nb) accumulate<NT>(a0, w[b], x + b, xsum + b * 8, nb);
    for (int t = 0; t < NT; t++) y[t * ldy + r] = hsum(_mm256_add_ps(a0[t], a1[t]));
}

// Decode: row by row, each a sequential stream for the prefetcher. Prefill: groups of 4
// tokens against the tile's rows in turn, so the group's activations stay in L1 while the
// few rows are re-read from L1 too; leftover tokens one by one.
template <typename B>
AVX2_FN static void rows_avx2(float* y, int64_t ldy, const block_q8_act* xq, const int32_t* xsum, int T, const tensor& w,
                              int64_t r0, int nr) {
    const int64_t nb = w.cols / QK;
    const B* rows = (const B*)w.data;
    int t = 0;
    for (; t + 4 <= T; t += 4)
        for (int64_t r = r0; r < r0 + nr; r++)
            dot_tokens_avx2<4>(y + t * ldy, ldy, xq + t * nb, xsum + t * nb * 8, nb, rows + r * nb, r);
    for (int64_t r = r0; r < r0 + nr; r++)
        for (int u = t; u < T; u++) dot_tokens_avx2<1>(y + u * ldy, ldy, xq + u * nb, xsum + u * nb * 8, nb, rows + r * nb, r);
}

void quant_rows_avx2(float* y, int64_t ldy, const block_q8_act* xq, const int32_t* xsum, int T, const tensor& w,
                     int64_t r0, int nr) {
    if (w.dtype == DT_Q8_0) rows_avx2<block_q8_0>(y, ldy, xq, xsum, T, w, r0, nr);
    else rows_avx2<block_q4_0>(y, ldy, xq, xsum, T, w, r0, nr);
}
#else
void quant_act_row_avx2(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8) {
    quant_act_row_scalar(x, n, out, lane_sum8);
}
void quant_rows_avx2(float* y, int64_t ldy, const block_q8_act* xq, const int32_t* xsum, int T, const tensor& w,
                     int64_t r0, int nr) {
    quant_rows_scalar(y, ldy, xq, xsum, T, w, r0, nr);
}
#endif
