#include "kernels.h"

#include "quant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define SIROCCO_X86 1
#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#endif

int dtype_size(dtype_t dt) { return dt == DT_F32 ? 4 : 2; }

uint64_t tensor_bytes(dtype_t dt, int64_t rows, int64_t cols) {
    if (dtype_is_quant(dt)) return (uint64_t)rows * (uint64_t)(cols / QK) * (uint64_t)quant_block_bytes(dt);
    return (uint64_t)rows * (uint64_t)cols * (uint64_t)dtype_size(dt);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 → 127
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal half: value = mant · 2^-24, normal as a float
        float v = (float)mant * 5.9604644775390625e-8f;
        std::memcpy(&bits, &v, 4);
        bits |= sign;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

template <int D>
static inline float elem(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return ((const float*)base)[i];
    if constexpr (D == DT_F16) return f16_to_f32(((const uint16_t*)base)[i]);
    return bf16_to_f32(((const uint16_t*)base)[i]);
}

template <int D>
static void row_f32_scalar(const tensor& w, int64_t row, float* dst) {
    for (int64_t k = 0; k < w.cols; k++) dst[k] = elem<D>(w.data, row * w.cols + k);
}

// ---------------------------------------------------------------- AVX2 / FMA / F16C
#ifdef SIROCCO_X86
template <int D>
AVX2_FN static inline __m256 load8(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return _mm256_loadu_ps((const float*)base + i);
    if constexpr (D == DT_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)base + i)));
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
AVX2_FN static void row_f32_avx2(const tensor& w, int64_t row, float* dst) {
    const int64_t K = w.cols, base = row * K;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) _mm256_storeu_ps(dst + k, load8<D>(w.data, base + k));
    for (; k < K; k++) dst[k] = elem<D>(w.data, base + k);
}

// Few tokens (decode): one weight row at a time, straight from its stored dtype, with four
// independent accumulators. Memory-bound: reading each row as one sequential stream keeps
// the hardware prefetcher ahead (interleaving 4 rows measured ~30% slower on 1024-wide f16
// rows); a second token re-reads the row from L1.
template <int D>
AVX2_FN static void row_direct_avx2(float* y, int64_t ldy, const float* x, int T, const tensor& w, int64_t r) {
    const int64_t K = w.cols, base = r * K;
    for (int t = 0; t < T; t++) {
        const float* xt = x + (int64_t)t * K;
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
        y[(int64_t)t * ldy + r] = s;
    }
}

// Many tokens (prefill): one f32 row against NT tokens per pass, each loaded weight vector
// feeding NT FMAs. The summation order is row_direct_avx2's exactly — four 8-lane partial
// sums over blocks of 32, an 8-wide remainder into the first, then a scalar tail — so a
// token's outputs are bit-identical whichever path its step takes (batch invariance).
template <int NT>
AVX2_FN static void row_tokens_f32_avx2(float* y, int64_t ldy, const float* x, int64_t K, const float* wrow, int64_t r) {
    __m256 acc[NT][4];
    for (int t = 0; t < NT; t++)
        for (int j = 0; j < 4; j++) acc[t][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32)
        for (int j = 0; j < 4; j++) {
            const __m256 wv = _mm256_loadu_ps(wrow + k + 8 * j);
            for (int t = 0; t < NT; t++) acc[t][j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * K + k + 8 * j), acc[t][j]);
        }
    for (; k + 8 <= K; k += 8) {
        const __m256 wv = _mm256_loadu_ps(wrow + k);
        for (int t = 0; t < NT; t++) acc[t][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * K + k), acc[t][0]);
    }
    for (int t = 0; t < NT; t++) {
        float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
        for (int64_t kk = k; kk < K; kk++) s += wrow[kk] * x[t * K + kk];
        y[t * ldy + r] = s;
    }
}

AVX2_FN static float dot_avx2(const float* a, const float* b, int n) {
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

AVX2_FN static void axpy_avx2(float* y, float a, const float* x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

// SIROCCO_ISA=scalar forces the portable path, so tests can check it on an AVX2 machine.
static bool cpu_has_avx2() {
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                           __builtin_cpu_supports("f16c") &&
                           !(std::getenv("SIROCCO_ISA") && std::strcmp(std::getenv("SIROCCO_ISA"), "scalar") == 0);
    return ok;
}
#else
static bool cpu_has_avx2() { return false; }
#endif

const char* kernels_isa() { return cpu_has_avx2() ? "avx2" : "scalar"; }

// ---------------------------------------------------------------- scalar fallbacks
template <int D>
static void rows_direct_scalar(float* y, int64_t ldy, const float* x, int T, const tensor& w, int64_t r0, int nr) {
    const int64_t K = w.cols;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < nr; i++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += elem<D>(w.data, (r0 + i) * K + k) * x[(int64_t)t * K + k];
            y[(int64_t)t * ldy + r0 + i] = s;
        }
}

// ---------------------------------------------------------------- dispatch
void tensor_row_f32(const tensor& w, int64_t row, float* dst) {
    if (dtype_is_quant(w.dtype)) return quant_row_f32(w, row, dst);  // d·q: one multiply, any ISA
#ifdef SIROCCO_X86
    if (cpu_has_avx2()) {
        switch (w.dtype) {
            case DT_F32: return row_f32_avx2<DT_F32>(w, row, dst);
            case DT_F16: return row_f32_avx2<DT_F16>(w, row, dst);
            case DT_BF16: return row_f32_avx2<DT_BF16>(w, row, dst);
            default: break;
        }
    }
#endif
    switch (w.dtype) {
        case DT_F32: return row_f32_scalar<DT_F32>(w, row, dst);
        case DT_F16: return row_f32_scalar<DT_F16>(w, row, dst);
        case DT_BF16: return row_f32_scalar<DT_BF16>(w, row, dst);
        default: break;
    }
}

static const int ROW_TILE = 4;     // output rows per task
static const int TOKEN_BLOCK = 48; // tokens whose activations stay in L2 while rows stream by
static const int DIRECT_MAX_TOKENS = 2;  // up to this, widening a row to f32 first does not pay

// Rows [r0, r0+nr) for T tokens.
static void matmul_rows(float* y, int64_t ldy, const float* x, int T, const tensor& w, int64_t r0, int nr) {
    const int64_t K = w.cols;
#ifdef SIROCCO_X86
    if (cpu_has_avx2()) {
        thread_local std::vector<float> widened;
        for (int64_t r = r0; r < r0 + nr; r++) {
            if (T <= DIRECT_MAX_TOKENS) {
                switch (w.dtype) {
                    case DT_F32: row_direct_avx2<DT_F32>(y, ldy, x, T, w, r); break;
                    case DT_F16: row_direct_avx2<DT_F16>(y, ldy, x, T, w, r); break;
                    case DT_BF16: row_direct_avx2<DT_BF16>(y, ldy, x, T, w, r); break;
                    default: break;
                }
                continue;
            }
            // Widen the row once (f32 rows are used in place) and reuse it for every token.
            const float* wrow = (const float*)w.data + r * K;
            if (w.dtype != DT_F32) {
                if (widened.size() < (size_t)K) widened.resize(K);
                tensor_row_f32(w, r, widened.data());
                wrow = widened.data();
            }
            int t = 0;
            for (; t + 3 <= T; t += 3) row_tokens_f32_avx2<3>(y + t * ldy, ldy, x + t * K, K, wrow, r);
            for (; t < T; t++) row_tokens_f32_avx2<1>(y + t * ldy, ldy, x + t * K, K, wrow, r);
        }
        return;
    }
#endif
    switch (w.dtype) {
        case DT_F32: return rows_direct_scalar<DT_F32>(y, ldy, x, T, w, r0, nr);
        case DT_F16: return rows_direct_scalar<DT_F16>(y, ldy, x, T, w, r0, nr);
        case DT_BF16: return rows_direct_scalar<DT_BF16>(y, ldy, x, T, w, r0, nr);
        default: break;
    }
}

// Quantized weights: each token's activations are quantized to int8 blocks once, here, and
// every row task reads them. Per token the result depends only on that token's row of x, so
// it is the same whatever else the step holds (batch invariance).
static void matmul_quant(thread_pool* pool, float* y, const float* x, const tensor& w, int n_tokens) {
    const int64_t rows = w.rows, K = w.cols, nb = K / QK;
    const bool avx2 = cpu_has_avx2();
    const int n_tiles = (int)((rows + ROW_TILE - 1) / ROW_TILE);
    const int grain = std::max(1, n_tiles / (thread_pool_size(pool) * 8));
    thread_local std::vector<block_q8_act> xq;  // (T, nb)
    thread_local std::vector<int32_t> xsum;     // (T, nb, 8)
    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int T = std::min(TOKEN_BLOCK, n_tokens - t0);
        if (xq.size() < (size_t)(T * nb)) {
            xq.resize((size_t)(T * nb));
            xsum.resize((size_t)(T * nb * 8));
        }
        for (int t = 0; t < T; t++)
            (avx2 ? quant_act_row_avx2 : quant_act_row_scalar)(x + (int64_t)(t0 + t) * K, K, xq.data() + t * nb,
                                                               xsum.data() + t * nb * 8);
        float* yb = y + (int64_t)t0 * rows;
        const block_q8_act* xb = xq.data();
        const int32_t* sb = xsum.data();
        thread_pool_for(pool, n_tiles, grain, [&](int begin, int end, int) {
            for (int tile = begin; tile < end; tile++) {
                const int64_t r0 = (int64_t)tile * ROW_TILE;
                const int nr = (int)std::min<int64_t>(ROW_TILE, rows - r0);
                (avx2 ? quant_rows_avx2 : quant_rows_scalar)(yb, rows, xb, sb, T, w, r0, nr);
            }
        });
    }
}

void matmul(thread_pool* pool, float* y, const float* x, const tensor& w, int n_tokens) {
    if (dtype_is_quant(w.dtype)) return matmul_quant(pool, y, x, w, n_tokens);
    const int64_t rows = w.rows, K = w.cols;
    const int n_tiles = (int)((rows + ROW_TILE - 1) / ROW_TILE);
    // Several chunks per thread so a slow core does not hold the others up.
    const int grain = std::max(1, n_tiles / (thread_pool_size(pool) * 8));
    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int T = std::min(TOKEN_BLOCK, n_tokens - t0);
        const float* xb = x + (int64_t)t0 * K;
        float* yb = y + (int64_t)t0 * rows;
        thread_pool_for(pool, n_tiles, grain, [&](int begin, int end, int) {
            for (int tile = begin; tile < end; tile++) {
                int64_t r0 = (int64_t)tile * ROW_TILE;
                int nr = (int)std::min<int64_t>(ROW_TILE, rows - r0);
                matmul_rows(yb, rows, xb, T, w, r0, nr);
            }
        });
    }
}

void rmsnorm(float* y, const float* x, const float* w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = (float)(1.0 / std::sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

float dot_f32(const float* a, const float* b, int n) {
#ifdef SIROCCO_X86
    if (cpu_has_avx2()) return dot_avx2(a, b, n);
#endif
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void axpy_f32(float* y, float a, const float* x, int n) {
#ifdef SIROCCO_X86
    if (cpu_has_avx2()) return axpy_avx2(y, a, x, n);
#endif
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}
