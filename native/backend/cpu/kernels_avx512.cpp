// AVX-512 (F, BW, VL, VNNI) float kernels: one panel of 16 rows to a vector. The integer
// kernels are in quant_avx512.cpp.
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx512_common.h"

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

// Column k of the tile's MP panels (element offsets panel[p] of their starts) times
// activation x_at(t) of each token, into acc.
template <int D, int MP, int NT, typename XAt>
AVX512_FN static inline void fma_column(__m512 (&acc)[MP][NT], const tensor& w, const int64_t* panel, int64_t k, XAt x_at) {
    __m512 wv[MP];
    for (int p = 0; p < MP; p++) wv[p] = load16<D>(w.data, panel[p] + k * PANEL_ROWS);
    for (int t = 0; t < NT; t++) {
        const __m512 xb = _mm512_set1_ps(x_at(t));
        for (int p = 0; p < MP; p++) acc[p][t] = _mm512_fmadd_ps(wv[p], xb, acc[p][t]);
    }
}

// Decode tiles (4 panels, activations as rows) fetch each weight stream ahead (by
// STREAM_FETCH_BYTES, kernels_isa.h), once a cache line: the hardware prefetcher alone falls
// behind 4 streams (as for Q4_0, quant_avx512.cpp). F16/BF16 batch-1 decode steps 5–11%
// shorter, 1 and 2 threads (interleaved A/B, Intel Xeon, 2 KB ahead). So does a prefill's
// widening tile (wide_tile), the one that brings its panel pair from memory: 256-token
// prefill 0.93–0.95× the time for mixtral-mini F16 and 0.92× BF16 (its experts' ~64 tokens
// make few tiles a pair), mistral-mini F16 0.97–0.98× (interleaved rounds, 2 threads, Intel
// Xeon); into L2 (prefetcht1) it lost 2%. (Not the decode tiles on Zen 4, whose prefetcher
// keeps up: DECODE_TILES_FETCH.) That fetch for the weights of column k, at element i of w,
// `ahead` bytes on: once a cache line.
template <int D>
AVX512_FN static FETCH_INLINE void fetch_ahead(const tensor& w, int64_t i, int64_t k, int ahead) {
    constexpr int elem = D == DT_F32 ? 4 : 2, columns_per_line = 64 / (PANEL_ROWS * elem);
    if (k % columns_per_line == 0) _mm_prefetch((const char*)w.data + i * elem + ahead, _MM_HINT_T0);
}

// One tile: panels i … i + MP − 1 of ps against NT tokens, each output one fma chain along k
// (kernels.h). Each loaded weight vector feeds NT FMAs, each broadcast activation MP:
// MP·NT accumulators of the 32 zmm registers. Activations come as rows (few tokens) or as
// one packed tile, k-major (xt[k·NT + t]), a single stream for the prefetcher.
template <int D, int MP, int NT, bool FETCH = true>
AVX512_FN static void float_tile(float* y, int64_t ldy, const act_rows& x, const float* xt, int t0, const tensor& w,
                                 const panel_set& ps, int i) {
    const int64_t K = w.cols;
    int64_t panel[MP];
    for (int p = 0; p < MP; p++) panel[p] = ps.at(i + p) * K * PANEL_ROWS;
    __m512 acc[MP][NT];
    for (auto& v : acc)
        for (auto& a : v) a = _mm512_setzero_ps();
    if (xt) {
        for (int64_t k = 0; k < K; k++, xt += NT) fma_column<D>(acc, w, panel, k, [&](int t) { return xt[t]; });
    } else {
        const float* xs[NT];
        for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t);
        const int ahead = STREAM_FETCH_BYTES;
        for (int64_t k = 0; k < K; k++) {
            if (MP == 4 && FETCH)
                for (int p = 0; p < MP; p++) fetch_ahead<D>(w, panel[p] + k * PANEL_ROWS, k, ahead);
            fma_column<D>(acc, w, panel, k, [&](int t) { return xs[t][k]; });
        }
    }
    for (int p = 0; p < MP; p++) {
        const int64_t at = ps.at(i + p);
        const __mmask16 m = tail_mask(w.rows, at * PANEL_ROWS);
        for (int t = 0; t < NT; t++) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + at * PANEL_ROWS, m, acc[p][t]);
    }
}

// Tokens [t0, t0 + n), n ≤ NT, as one tile of NT' = n.
template <int D, int MP, int NT, bool FETCH = true>
AVX512_FN static void float_tokens(float* y, int64_t ldy, const act_rows& x, const float* xt, int t0, int n, const tensor& w,
                                   const panel_set& ps, int i) {
    if constexpr (NT > 1)
        if (n < NT) return float_tokens<D, MP, NT - 1, FETCH>(y, ldy, x, xt, t0, n, w, ps, i);
    float_tile<D, MP, NT, FETCH>(y, ldy, x, xt, t0, w, ps, i);
}

// Prefill tiles: a first one of 12 tokens (or T), then the rest in tiles of at most 12 as even
// as can be, the smaller ones first. Tile i starts at token tile_start(T, i). The first tile is
// full because in wide_panels it is the one that brings the panels from memory, at the memory's
// pace, which leaves room for a full tile's FMAs; the tiles after it compute from cache. So 16
// tokens are 12 + 4 (they were 8 + 8): batch-16 step of mistral-mini F16 0.910× the time at 2
// threads (4 of 5 interleaved pairs), 0.920× at 1 (5 of 5), BF16 0.90× (5 of 5); 256-token
// prefill mistral-mini F16 0.98×, mixtral-mini F16 0.984× (5 of 5), BF16 0.983× (Intel Xeon).
static const int TILE_TOKENS = 12;
static inline int tile_count(int T) { return 1 + (std::max(0, T - TILE_TOKENS) + TILE_TOKENS - 1) / TILE_TOKENS; }
static inline int tile_start(int T, int i) {
    if (i == 0) return 0;
    const int rest = T - TILE_TOKENS, n = tile_count(T) - 1;
    if (n == 0) return T;
    const int small = n - rest % n, j = i - 1;
    return TILE_TOKENS + j * (rest / n) + std::max(0, j - small);
}

// The activations of a T-token call as its tiles, each k-major: token t of tile i, column k
// at tile_start(T, i)·K + k·(tile size) + (t − tile_start(T, i)). Part `part` of `parts`
// packs a contiguous run of tiles, writing each one front to back.
void avx512_pack_act(const act_rows& x, int T, int64_t K, int part, int parts, float* out) {
    const int tiles = tile_count(T);
    for (int i = part * tiles / parts; i < (part + 1) * tiles / parts; i++) {
        const int s = tile_start(T, i), n = tile_start(T, i + 1) - s;
        const float* rows[TILE_TOKENS];
        for (int t = 0; t < n; t++) rows[t] = x.row(s + t);
        float* dst = out + (int64_t)s * K;
        for (int64_t k = 0; k < K; k++)
            for (int t = 0; t < n; t++) *dst++ = rows[t][k];
    }
}

// Prefill of F16/BF16 weights widens them to f32 once a panel pair, not once a token tile:
// each widening load takes two uops of the FMA ports on Intel (vcvtph2ps; vpmovzxwd and a
// shift), 4 of every 28 in a 2 × 12 tile. The first token tile widens the pair's columns as
// it goes (fetching ahead: it brings the pair from memory), WIDE_COLUMNS at a time, into a
// per-thread buffer (k-major, the panels' 16 lanes side by side: one stream, 256 KB, in L2);
// the other tiles read it, each resuming its chains from the partial sums in y after the
// first block of columns — the same chains, the same bits. 256-token prefill, 2 threads,
// Intel Xeon, interleaved A/B: mistral-mini f16 0.956× the time (2 of 3 rounds), bf16 0.957×
// (3 of 3); mixtral-mini f16 0.993× (its experts' tiles are few: ~64 tokens an expert).
// A call of one or two tiles takes this path too (float_tile's packed path now serves F32
// weights alone): 8-, 12- and 24-token F16/BF16 prefills of mistral-mini took 0.78×, 0.61×
// and 0.81× the time they took there, mixtral-mini 64 tokens 0.93× (interleaved A/B, 3 of 3
// rounds each, 2 threads, Intel Xeon).
static const int64_t WIDE_COLUMNS = 2048;
// When a call's packed activations pass WIDE_FETCH_ABOVE bytes they no longer stay in L2 with
// the widened panels, and the tiles reading the copy fetch both WIDE_AHEAD columns ahead.
// 256-token prefill, 2 threads, Intel Xeon, interleaved A/B: mistral-mini F16 0.945× the time
// (6 of 6 rounds), BF16 0.945× (4 of 4), 1 thread F16 0.93× (3 of 3). Below it, the fetches
// only cost: mixtral-mini F16 (its experts' ~64 tokens, 0.25–0.9 MB) had taken 1.036× (2 of
// 6) with them; 0.997× now.
static const int WIDE_AHEAD = 16;
static const int64_t WIDE_FETCH_ABOVE = int64_t(1) << 20;

// A tile that streams one or two panels a thread from memory (the wide path's first token
// tile, which widens a panel pair; one_pass_tile) fetches each farther ahead than a decode
// tile's four streams: 2 KB on every CPU, the distance tuned on Intel. Zen 5's 1 KB
// (STREAM_FETCH_BYTES, right for four streams) cost both there (interleaved A/B in both
// orders, 2 threads): with 2 KB batch-16 steps took 0.972× the time through the wide path
// (mistral-mini F16, 13 of 18 pairs; 4 KB 1.025× of 2), BF16 0.910× (11 of 14), mixtral-mini
// F16 0.944× (11 of 14), and 256-token prefill 0.994× (mistral-mini F16, 7 of 10); in
// one_pass_tile 1 KB had taken 1.11× (mistral-mini F16, 15 of 18; 4 and 8 KB within noise).
static const int FEW_STREAM_FETCH_BYTES = 2048;

// One tile of NT tokens (the packed tile xt from its column k0) against MP panels of ps,
// columns [k0, k0 + kn) of each chain: from zero when k0 = 0, else from the sums y holds.
// WIDEN: reads the panels from w and writes them to wide[(k·MP + p)·16 + lane] as f32;
// otherwise reads them from wide.
template <int D, bool WIDEN, int MP, int NT, bool FETCH = false>
AVX512_FN static void wide_tile(float* y, int64_t ldy, const float* xt, int t0, float* wide, int64_t k0, int64_t kn,
                                const tensor& w, const panel_set& ps, int i) {
    __mmask16 mask[MP];
    float* out[MP];
    int64_t panel[MP];
    for (int p = 0; p < MP; p++) {
        const int64_t at = ps.at(i + p);
        mask[p] = tail_mask(w.rows, at * PANEL_ROWS);
        out[p] = y + t0 * ldy + at * PANEL_ROWS;
        panel[p] = (at * w.cols + k0) * PANEL_ROWS;
    }
    __m512 acc[MP][NT];
    for (int p = 0; p < MP; p++)
        for (int t = 0; t < NT; t++) acc[p][t] = k0 ? _mm512_maskz_loadu_ps(mask[p], out[p] + t * ldy) : _mm512_setzero_ps();
    for (int64_t k = 0; k < kn; k++, xt += NT, wide += MP * PANEL_ROWS) {
        __m512 wv[MP];
        if constexpr (WIDEN)
            for (int p = 0; p < MP; p++) fetch_ahead<D>(w, panel[p] + k * PANEL_ROWS, k, FEW_STREAM_FETCH_BYTES);
        if constexpr (FETCH) {
            for (int p = 0; p < MP; p++) _mm_prefetch((const char*)(wide + (WIDE_AHEAD * MP + p) * PANEL_ROWS), _MM_HINT_T0);
            if (k % 4 == 0)
                for (int l = 0; l < NT * 16; l += 64) _mm_prefetch((const char*)(xt + WIDE_AHEAD * NT) + l, _MM_HINT_T0);
        }
        for (int p = 0; p < MP; p++) {
            if constexpr (WIDEN) _mm512_store_ps(wide + p * PANEL_ROWS, wv[p] = load16<D>(w.data, panel[p] + k * PANEL_ROWS));
            else wv[p] = _mm512_load_ps(wide + p * PANEL_ROWS);
        }
        for (int t = 0; t < NT; t++) {
            const __m512 xb = _mm512_set1_ps(xt[t]);
            for (int p = 0; p < MP; p++) acc[p][t] = _mm512_fmadd_ps(wv[p], xb, acc[p][t]);
        }
    }
    for (int p = 0; p < MP; p++)
        for (int t = 0; t < NT; t++) _mm512_mask_storeu_ps(out[p] + t * ldy, mask[p], acc[p][t]);
}

template <int D, bool WIDEN, int MP, int NT, bool FETCH = false>
AVX512_FN static void wide_tokens(float* y, int64_t ldy, const float* xt, int t0, int n, float* wide, int64_t k0,
                                  int64_t kn, const tensor& w, const panel_set& ps, int i) {
    if constexpr (NT > 1)
        if (n < NT) return wide_tokens<D, WIDEN, MP, NT - 1, FETCH>(y, ldy, xt, t0, n, wide, k0, kn, w, ps, i);
    wide_tile<D, WIDEN, MP, NT, FETCH>(y, ldy, xt + k0 * NT, t0, wide, k0, kn, w, ps, i);
}

template <int D, int MP>
AVX512_FN static void wide_panels(float* y, int64_t ldy, const float* packed, int T, const tensor& w, const panel_set& ps, int i) {
    float* wide = (float*)thread_copy_buffer(2 * WIDE_COLUMNS * PANEL_ROWS * sizeof(float));
    const bool fetch = (int64_t)T * w.cols * (int64_t)sizeof(float) > WIDE_FETCH_ABOVE;
    for (int64_t k0 = 0; k0 < w.cols; k0 += WIDE_COLUMNS) {
        const int64_t kn = std::min(WIDE_COLUMNS, w.cols - k0);
        for (int tile = 0; tile < tile_count(T); tile++) {
            const int s = tile_start(T, tile), n = tile_start(T, tile + 1) - s;
            const float* xt = packed + (int64_t)s * w.cols;
            if (tile == 0) wide_tokens<D, true, MP, TILE_TOKENS>(y, ldy, xt, s, n, wide, k0, kn, w, ps, i);
            else if (fetch) wide_tokens<D, false, MP, TILE_TOKENS, true>(y, ldy, xt, s, n, wide, k0, kn, w, ps, i);
            else wide_tokens<D, false, MP, TILE_TOKENS>(y, ldy, xt, s, n, wide, k0, kn, w, ps, i);
        }
    }
}

// Calls of 13–24 tokens (batched decode; F16/BF16 ones on Intel only: ONE_PASS_BATCHES): one
// panel against all of them in a single pass, its weights widened in registers (up to 24
// accumulators). In wide_panels such a call is a first tile of 12 that streams the panel
// pair from memory, bound by it, then a tile of the other tokens that computes from the copy
// with the memory idle; here the one pass streams the panel while it computes. Batch-16
// decode step of mistral-mini, 2 threads, Intel Xeon, interleaved A/B: F16 0.83× the time (7
// of 7 pairs), BF16 0.88× (7 of 7); batch 20 F16 0.98×, 24 0.92×.
// packed: the call's activations, tiles of 12 and N1 (avx512_pack_act).
template <int D, int N1>
AVX512_FN static void one_pass_tile(float* y, int64_t ldy, const float* packed, const tensor& w, int64_t at) {
    constexpr int N0 = TILE_TOKENS, NT = N0 + N1;
    const int64_t K = w.cols, panel = at * K * PANEL_ROWS;
    const float *x0 = packed, *x1 = packed + N0 * K;
    __m512 acc[NT];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++, x0 += N0, x1 += N1) {
        fetch_ahead<D>(w, panel + k * PANEL_ROWS, k, FEW_STREAM_FETCH_BYTES);
        const __m512 wv = load16<D>(w.data, panel + k * PANEL_ROWS);
        for (int t = 0; t < N0; t++) acc[t] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x0[t]), acc[t]);
        for (int t = 0; t < N1; t++) acc[N0 + t] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x1[t]), acc[N0 + t]);
    }
    const __mmask16 m = tail_mask(w.rows, at * PANEL_ROWS);
    for (int t = 0; t < NT; t++) _mm512_mask_storeu_ps(y + t * ldy + at * PANEL_ROWS, m, acc[t]);
}

template <int D, int N1 = TILE_TOKENS>
AVX512_FN static void one_pass_panels(float* y, int64_t ldy, const float* packed, int T, const tensor& w, const panel_set& ps) {
    if constexpr (N1 > 1)
        if (T < TILE_TOKENS + N1) return one_pass_panels<D, N1 - 1>(y, ldy, packed, T, w, ps);
    for (int i = 0; i < ps.n; i++) one_pass_tile<D, N1>(y, ldy, packed, w, ps.at(i));
}

// Few tokens (decode): four panels a tile, four weight streams in flight, activations as
// rows. 13–24 (batched decode): one pass a panel (F16/BF16 on Intel only). More (prefill):
// F16/BF16 through wide_panels; F32 two panels against a packed tile of up to 12 tokens, 24
// accumulators.
// (Blocking k to keep a tile's weights in L1 measured slower: the prefetchers stream whole
// panels better.)
template <int D>
AVX512_FN static void float_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    int i = 0;
    const bool one_pass = ONE_PASS_BATCHES || D == DT_F32;
    if (one_pass && x.packed && T > TILE_TOKENS && T <= 2 * TILE_TOKENS) return one_pass_panels<D>(y, ldy, x.packed, T, w, ps);
    if constexpr (D != DT_F32)
        if (x.packed) {
            for (; i + 2 <= ps.n; i += 2) wide_panels<D, 2>(y, ldy, x.packed, T, w, ps, i);
            if (i < ps.n) wide_panels<D, 1>(y, ldy, x.packed, T, w, ps, i);
            return;
        }
    if (!x.packed) {
        for (; i + 4 <= ps.n; i += 4)
            for (int t = 0; t < T; t += 4) {
                if (DECODE_TILES_FETCH) float_tokens<D, 4, 4, true>(y, ldy, x, nullptr, t, std::min(4, T - t), w, ps, i);
                else float_tokens<D, 4, 4, false>(y, ldy, x, nullptr, t, std::min(4, T - t), w, ps, i);
            }
        for (; i < ps.n; i++)
            for (int t = 0; t < T; t += 4) float_tokens<D, 1, 4>(y, ldy, x, nullptr, t, std::min(4, T - t), w, ps, i);
        return;
    }
    for (; i < ps.n; i += 2)
        for (int tile = 0; tile < tile_count(T); tile++) {
            const int s = tile_start(T, tile), n = tile_start(T, tile + 1) - s;
            const float* xt = x.packed + (int64_t)s * w.cols;
            if (i + 2 <= ps.n) float_tokens<D, 2, TILE_TOKENS>(y, ldy, x, xt, s, n, w, ps, i);
            else float_tokens<D, 1, TILE_TOKENS>(y, ldy, x, xt, s, n, w, ps, i);
        }
}

AVX512_FN void avx512_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    switch (w.dtype) {
        case DT_F32: return float_panels<DT_F32>(y, ldy, x, T, w, ps);
        case DT_F16: return float_panels<DT_F16>(y, ldy, x, T, w, ps);
        case DT_BF16: return float_panels<DT_BF16>(y, ldy, x, T, w, ps);
        default: return;
    }
}

AVX512_FN void avx512_silu_mul(float* g, const float* u, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n, i);
        const __m512 v = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), v));
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(_mm512_div_ps(v, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + i)));
    }
}

AVX512_FN void avx512_axpy(float* y, float a, const float* x, int n) {
    const __m512 av = _mm512_set1_ps(a);
    int k = 0;
    for (; k + 16 <= n; k += 16) _mm512_storeu_ps(y + k, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + k), _mm512_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

// 10 independent chains of FMAs; each starts from its own value, or the compiler may compute
// one chain for all ten (it did so for the AVX2 probe).
AVX512_FN double avx512_fma_probe(int64_t iters, float* sink) {
    __m512 a[10];
    for (int j = 0; j < 10; j++) a[j] = _mm512_set1_ps(1.0f + j);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = _mm512_fmadd_ps(v, m, c);
    __m512 s = a[0];
    for (int j = 1; j < 10; j++) s = _mm512_add_ps(s, a[j]);
    *sink += _mm512_reduce_add_ps(s);
    return 2.0 * 16 * 10 * (double)iters;
}

#endif
