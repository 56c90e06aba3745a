// AVX2 / FMA / F16C float kernels. Every function carries its target attribute, so nothing
// compiled here runs unless the CPU was checked for it (kernels_select.cpp).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx2_common.h"

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

AVX2_FN void avx2_to_f16(const float* x, uint16_t* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i*)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    scalar_to_f16(x + i, out + i, n - i);
}

// Decode tiles fetch each weight stream this far ahead, once a cache line: the
// hardware prefetcher alone falls behind (kernels_avx512.cpp). F16 batch-1 decode with this
// table on Zen 5: steps 14–16% shorter; 2 KB ahead about the same. So does a prefill's first
// token tile, the one that brings its panel from memory: 256-token prefill with this table on
// an Intel Xeon (2 threads, interleaved A/B, 3 of 3 rounds each): mixtral-mini BF16 0.93× the
// time, F16 0.96×, mistral-mini BF16 0.98×. (The quantized first tile gained nothing.)
static const int FLOAT_PREFETCH_BYTES = 4096;

// One tile: panels i … i + MP − 1 of ps (2·MP vectors of 8 rows) against NT tokens, each
// output one fma chain along k (kernels.h). Each loaded weight vector feeds NT FMAs, each
// broadcast activation 2·MP: 2·MP·NT accumulators of the 16 ymm registers.
template <int D, int MP, int NT, bool FETCH = true>
AVX2_FN static void float_tile(float* y, int64_t ldy, const act_rows& x, int t0, const tensor& w, const panel_set& ps,
                               int i) {
    const int64_t K = w.cols;
    int64_t panel[MP];
    for (int p = 0; p < MP; p++) panel[p] = ps.at(i + p);
    const float* xs[NT];
    for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t);
    __m256 acc[2 * MP][NT];
    UNROLL_TILE for (int h = 0; h < 2 * MP; h++)
        UNROLL_TILE for (int t = 0; t < NT; t++) acc[h][t] = _mm256_setzero_ps();
    constexpr int elem = D == DT_F32 ? 4 : 2, columns_per_line = 64 / (PANEL_ROWS * elem);
    for (int64_t k = 0; k < K; k++) {
        if (FETCH && (MP >= 2 || t0 == 0) && k % columns_per_line == 0)
            for (int p = 0; p < MP; p++)
                _mm_prefetch((const char*)w.data + (panel[p] * K + k) * PANEL_ROWS * elem + FLOAT_PREFETCH_BYTES, _MM_HINT_T0);
        __m256 wv[2 * MP];
        UNROLL_TILE for (int h = 0; h < 2 * MP; h++) wv[h] = load8<D>(w.data, (panel[h / 2] * K + k) * PANEL_ROWS + 8 * (h % 2));
        UNROLL_TILE for (int t = 0; t < NT; t++) {
            const __m256 xb = _mm256_broadcast_ss(xs[t] + k);
            UNROLL_TILE for (int h = 0; h < 2 * MP; h++) acc[h][t] = _mm256_fmadd_ps(wv[h], xb, acc[h][t]);
        }
    }
    UNROLL_TILE for (int h = 0; h < 2 * MP; h++) {
        const int64_t r = panel[h / 2] * PANEL_ROWS + 8 * (h % 2);
        if (r < w.rows)
            UNROLL_TILE for (int t = 0; t < NT; t++) store_lanes(y + (t0 + t) * ldy + r, acc[h][t], w.rows - r);
    }
}

// Tokens [t0, t0 + n), n ≤ NT, as one tile of NT' = n.
template <int D, int MP, int NT>
AVX2_FN static void float_tokens(float* y, int64_t ldy, const act_rows& x, int t0, int n, const tensor& w,
                                 const panel_set& ps, int i) {
    if constexpr (NT > 1)
        if (n < NT) return float_tokens<D, MP, NT - 1>(y, ldy, x, t0, n, w, ps, i);
    float_tile<D, MP, NT>(y, ldy, x, t0, w, ps, i);
}

// Prefill of F16/BF16 weights widens them to f32 once a panel, not once a token tile, as
// kernels_avx512.cpp's wide_panels does (panel_source): the first token tile widens
// WIDE_COLUMNS columns as it goes into the thread's copy (k-major, the panel's 16 rows side by
// side: 128 KB), the other tiles read it, each resuming its chains from the partial sums in y
// after the first block of columns — the same chains, the same bits. The widening is 4 of 16
// FMA-port µops a column of the 1 × 6 tile on Intel. 256-token prefill, --isa avx2, 2 threads,
// Intel Xeon, 3 of 3 interleaved rounds: mistral-mini F16 0.905× the time, BF16 0.924×,
// mixtral-mini F16 0.81×.
static const int64_t WIDE_COLUMNS = 2048;

// Panel p against NT tokens, columns [k0, k0 + kn) of each chain: from zero when k0 = 0, else
// from the sums y holds. WIDEN: reads the panel from w and writes it to wide[k·16 + row] as
// f32; otherwise reads it from wide.
template <int D, bool WIDEN, int NT>
AVX2_FN static void wide_tile(float* y, int64_t ldy, const act_rows& x, int t0, float* wide, int64_t k0, int64_t kn,
                              const tensor& w, int64_t p) {
    const float* xs[NT];
    for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t) + k0;
    int64_t rows[2];  // rows of each half that exist
    for (int h = 0; h < 2; h++) rows[h] = std::max<int64_t>(0, w.rows - (p * PANEL_ROWS + 8 * h));
    float* out = y + t0 * ldy + p * PANEL_ROWS;
    __m256 acc[2][NT];
    UNROLL_TILE for (int h = 0; h < 2; h++)
        UNROLL_TILE for (int t = 0; t < NT; t++) acc[h][t] = k0 ? load_lanes(out + t * ldy + 8 * h, rows[h]) : _mm256_setzero_ps();
    const int64_t panel = (p * w.cols + k0) * PANEL_ROWS;
    for (int64_t k = 0; k < kn; k++, wide += PANEL_ROWS) {
        if constexpr (WIDEN)
            if (k % 2 == 0)  // a line holds 2 columns of 16 rows
                _mm_prefetch((const char*)w.data + (panel + k * PANEL_ROWS) * 2 + FLOAT_PREFETCH_BYTES, _MM_HINT_T0);
        __m256 wv[2];
        UNROLL_TILE for (int h = 0; h < 2; h++) {
            if constexpr (WIDEN) _mm256_store_ps(wide + 8 * h, wv[h] = load8<D>(w.data, panel + k * PANEL_ROWS + 8 * h));
            else wv[h] = _mm256_load_ps(wide + 8 * h);
        }
        UNROLL_TILE for (int t = 0; t < NT; t++) {
            const __m256 xb = _mm256_broadcast_ss(xs[t] + k);
            UNROLL_TILE for (int h = 0; h < 2; h++) acc[h][t] = _mm256_fmadd_ps(wv[h], xb, acc[h][t]);
        }
    }
    UNROLL_TILE for (int h = 0; h < 2; h++)
        if (rows[h] > 0)
            UNROLL_TILE for (int t = 0; t < NT; t++) store_lanes(out + t * ldy + 8 * h, acc[h][t], rows[h]);
}

template <int D, bool WIDEN, int NT>
AVX2_FN static void wide_tokens(float* y, int64_t ldy, const act_rows& x, int t0, int n, float* wide, int64_t k0,
                                int64_t kn, const tensor& w, int64_t p) {
    if constexpr (NT > 1)
        if (n < NT) return wide_tokens<D, WIDEN, NT - 1>(y, ldy, x, t0, n, wide, k0, kn, w, p);
    wide_tile<D, WIDEN, NT>(y, ldy, x, t0, wide, k0, kn, w, p);
}

template <int D>
AVX2_FN static void wide_panel(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t p) {
    float* wide = (float*)thread_copy_buffer(WIDE_COLUMNS * PANEL_ROWS * sizeof(float));
    for (int64_t k0 = 0; k0 < w.cols; k0 += WIDE_COLUMNS) {
        const int64_t kn = std::min(WIDE_COLUMNS, w.cols - k0);
        wide_tokens<D, true, 6>(y, ldy, x, 0, std::min(6, T), wide, k0, kn, w, p);
        for (int t = 6; t < T; t += 6) wide_tokens<D, false, 6>(y, ldy, x, t, std::min(6, T - t), wide, k0, kn, w, p);
    }
}

// One token: four panels a tile (a panel group's, four weight streams: panel_layout.h); two:
// two panels (16 accumulators would not leave room for four); more: one panel against 6
// tokens, F16/BF16 widened once a panel (wide_panel) when that makes two tiles or more. Four
// panels rather than two, batch-1 decode, 2 threads, Intel Xeon, interleaved A/B (3 of 3
// rounds each): mistral-mini F16 0.946× the time, BF16 0.912×, mixtral-mini F16 0.951×; 1
// thread F16 0.913×. (2 and 8 KB ahead instead of 4: 1.03× and 1.12×.) On AMD family 19h
// (DECODE_TILES_FETCH false: Zen 4, and Zen 3, which runs this table) the one-token tiles
// fetch nothing: --isa avx2 on Zen 4, bench:ab --both-orders, 40 pairs each way: mixtral-mini
// F16 0.820× the time at 1 thread, mistral-mini BF16 0.828×; at 2 threads mistral-mini F16
// 0.956×, mixtral-mini BF16 0.939×. (Two tokens without fetching: 1.09×.)
template <int D>
AVX2_FN static void float_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    int i = 0;
    if (T == 1)
        for (; i + 4 <= ps.n; i += 4)
            DECODE_TILES_FETCH ? float_tile<D, 4, 1>(y, ldy, x, 0, w, ps, i) : float_tile<D, 4, 1, false>(y, ldy, x, 0, w, ps, i);
    if (T <= 2)
        for (; i + 2 <= ps.n; i += 2) float_tokens<D, 2, 2>(y, ldy, x, 0, T, w, ps, i);
    if (D != DT_F32 && T > 6) {
        for (; i < ps.n; i++) wide_panel<D>(y, ldy, x, T, w, ps.at(i));
        return;
    }
    for (; i < ps.n; i++)
        for (int t = 0; t < T; t += 6) float_tokens<D, 1, 6>(y, ldy, x, t, std::min(6, T - t), w, ps, i);
}

AVX2_FN void avx2_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    switch (w.dtype) {
        case DT_F32: return float_panels<DT_F32>(y, ldy, x, T, w, ps);
        case DT_F16: return float_panels<DT_F16>(y, ldy, x, T, w, ps);
        case DT_BF16: return float_panels<DT_BF16>(y, ldy, x, T, w, ps);
        default: return;
    }
}

AVX2_FN void avx2_axpy(float* y, float a, const float* x, int n) {
    const __m256 av = _mm256_set1_ps(a);
    int k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

// max x[j], j < n ≥ 1: 8 lanes, then the tail.
AVX2_FN static float row_max(const float* x, int n) {
    __m256 mv = _mm256_set1_ps(x[0]);
    int j = 0;
    for (; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + j));
    alignas(32) float lane[8];
    _mm256_store_ps(lane, mv);
    float m = lane[0];
    for (int l = 1; l < 8; l++) m = std::max(m, lane[l]);
    for (; j < n; j++) m = std::max(m, x[j]);
    return m;
}

AVX2_FN float avx2_softmax_exp(float* x, int n, float* max) {
    const float m = *max = row_max(x, n);
    const __m256 mv = _mm256_set1_ps(m);
    __m256 sum = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv));
        _mm256_storeu_ps(x + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (j < n) {  // the tail through a copy, its lanes past n zeroed before they are summed
        alignas(32) float tail[8] = {};
        for (int i = j; i < n; i++) tail[i - j] = x[i] - m;
        _mm256_store_ps(tail, exp8(_mm256_load_ps(tail)));
        for (int i = n - j; i < 8; i++) tail[i] = 0;
        for (int i = j; i < n; i++) x[i] = tail[i - j];
        sum = _mm256_add_ps(sum, _mm256_load_ps(tail));
    }
    return hsum(sum);
}

AVX2_FN void avx2_silu_mul(float* g, const float* u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(g + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + exp_poly(-g[i])) * u[i];
}

// 10 independent chains cover the FMA latency (4–5 cycles) times two ports. Each starts from
// its own value, or the compiler computes one chain for all ten.
AVX2_FN double avx2_fma_probe(int64_t iters, float* sink) {
    __m256 a[10];
    UNROLL_TILE for (int j = 0; j < 10; j++) a[j] = _mm256_set1_ps(1.0f + j);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int64_t i = 0; i < iters; i++)
        UNROLL_TILE for (auto& v : a) v = _mm256_fmadd_ps(v, m, c);
    __m256 s = a[0];
    UNROLL_TILE for (int j = 1; j < 10; j++) s = _mm256_add_ps(s, a[j]);
    *sink += hsum(s);
    return 2.0 * 8 * 10 * (double)iters;
}
#endif
