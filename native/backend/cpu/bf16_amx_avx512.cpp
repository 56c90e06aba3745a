// BF16 weights through AMX (Intel's tile unit, Sapphire Rapids and later): the `avx512_amx`
// table, which is the avx512 table with this matmul for BF16 weights. `tdpbf16ps` multiplies
// a tile of 16 tokens × 32 k of bf16 activations by one of 32 k × 16 rows of weights into 16
// × 16 f32 sums: a 256-token × 2,048 × 5,632 matmul on one thread of an Intel Xeon took
// 9.3–10.3 ms against the avx512 table's 37–38 ms (3.8×), with activations rounded to bf16
// once (the split below takes ~1.6× that).
//
// The unit takes bf16 activations, so each is split in two, hi = x rounded to bf16 (round-to-
// nearest-even) and lo = x − hi rounded again, and every tile product is taken twice, W·hi +
// W·lo: 16 of f32's 24 significant bits. With hi alone (8) a sensitive model's logits (8-dim
// heads, test/engine_shards.test.ts) sat 0.36 from the exact reference, 18× DESIGN's bf16
// tolerance; split, 5–8e-6, within the f32 weights' 1e-3, as the tests now hold it. The cost:
// 256-token prefill 1.3× (mixtral-mini) to 1.6× (mistral-mini) hi alone's time, 1.5–2.6× the
// avx512 table's speed (Intel Xeon, 1 and 2 threads). Its numbers are not the other tables' bits:
// the unit sums each tile product in an order of its own (no chain of FMAs matched its
// results). Batch invariance holds: an output is its token's row against its weight row, k in
// chunks of 32 in order, hi then lo, from zero, whatever the tile, the call or the batch — so
// decode runs the same tiles as prefill, loading them straight from the weights, which are
// packed for the tiles at load (panel_layout.h: BF16 tile pairs).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "amx_tiles.h"
#include "avx512_common.h"

#define AMX_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c,amx-tile,amx-bf16")))

static const int KC = TILE_PAIRS_K;  // k a tile product covers (16 rows of 64 bytes: 32 bf16 a row)

// The tile shapes of this thread: tiles 0–3 the f32 sums (token tile a × panel b at 2a + b),
// 4–5 a token tile's activations (hi, lo), 6–7 two panels of weights; rows of 64 bytes, 16 of
// them but in the sums and token tiles of a call of fewer than 16 tokens (decode): as many as it
// has, so that no row past them streams through L1 a k step for sums never stored. Batch-1
// step, 2 threads, Intel Xeon, alternating A/B in both orders: mistral-mini BF16 0.905× and
// 1/1.059 the time (the one row loaded 16 times, stride 0, as then measured), mixtral-mini
// 0.927× and 1/1.073; batch 4: 0.973× and 1/1.026, 0.962× and 1/1.058.
static void use_tile_shapes(int token_rows) {
    amx_shapes s{};
    for (int i = 0; i < 8; i++) s.rows[i] = i < 6 ? token_rows : 16, s.colsb[i] = 64;
    amx_use_shapes(s);
}

// f32 → bf16, round-to-nearest-even (DESIGN §2), 16 at a time.
AMX_FN static inline __m256i to_bf16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16));
}

AMX_FN static inline __m512 from_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

// Activation row src (K) as hi and lo, 32 columns of each a tile row 64 bytes long, starting
// at dst (panel_layout.h), zero past K (zero products add nothing). x − hi is exact in f32: hi
// is x's nearest bf16.
AMX_FN static void row_bf16(const float* src, int64_t K, int64_t Kp, uint16_t* dst) {
    for (int64_t k = 0; k < Kp; k += 16) {
        const __mmask16 m = k < K ? tail_mask(K, k) : 0;
        const __m512 v = _mm512_maskz_loadu_ps(m, src + k);
        const __m256i hi = to_bf16(v);
        uint16_t* out = dst + k / KC * BF16_ACT_TILES + k % KC;
        _mm256_storeu_si256((__m256i*)out, hi);
        _mm256_storeu_si256((__m256i*)(out + BF16_ACT_TILES / 2), to_bf16(_mm512_sub_ps(v, from_bf16(hi))));
    }
}

// The table's pack_act_bf16 (kernels.h): rows [part·T/parts, (part + 1)·T/parts). The rows past
// T that the tiles load are left as they are: a tile's output row m is its activation row m
// against the weights, so those rows' sums are never stored (and never touch the others').
AMX_FN void avx512_amx_pack_act_bf16(const act_rows& x, int T, int64_t K, int part, int parts, uint16_t* out) {
    const int64_t Kp = tile_pairs_cols(K), lda = bf16_act_stride(K);
    for (int t = part * T / parts; t < (part + 1) * T / parts; t++) row_bf16(x.row(t), K, Kp, out + t / 16 * 16 * lda + t % 16 * KC);
}

// A pair's first token tile fetches its weights this far ahead in each panel (2 tiles), as
// the decode tiles of the other tables fetch theirs: a decode step streams them from memory.
// mistral-mini BF16 batch-1 step, 2 threads: 51.7–52.6 ms (the avx512 table: 48.1–49.2); 4
// KB ahead 58.9–59.1, 8 KB 57.9–60.7.
static const int FETCH_BYTES = 2048;

// y[t][rows of panel at] for the tokens [t0, t0 + 16) below T, from a tile's 16 × 16 sums.
AMX_FN static void store_sums(float* y, int64_t ldy, int T, int t0, const tensor& w, int64_t at, const float* sums) {
    const __mmask16 m = tail_mask(w.rows, at * PANEL_ROWS);
    for (int t = t0; t < std::min(T, t0 + 16); t++) _mm512_mask_storeu_ps(y + t * ldy + at * PANEL_ROWS, m, _mm512_load_ps(sums + (t - t0) * 16));
}

// Panels of ps two at a time (an odd last one taking its own panel twice), straight from the
// weights in their tile layout (panel_layout.h: BF16 tile pairs), against tokens 32 at a time
// (16 where no more are left), each 32 tokens against all of ps's panels in turn (their
// activations then come from L2 but for the first pair: 0.91× the time of the other order).
// What bounds it: the tile loads, ~7 ns each from L2 (a harness of this loop, one thread,
// Intel Xeon: the six loads of a k step alone 42 ns, its products' four-at-a-time probe 23
// ns). What that taught, 256-token prefill, mistral-mini: tiles are not renamed, so a load
// waits for the products before it that read its tile, and each load just before its first
// reader took 0.70× the time of all loads first; a token tile's hi and lo in 1 KB pieces
// (packed so) 0.82× the time of 16 rows a stride apart (64 page streams a k step: more than
// the prefetchers follow); loads issued two products early, 1.16×; 8 panels a work item 1.04×.
// Earlier, hi alone: k blocks that keep a pair's weights in L1, the sums out and back
// between blocks, 1.2×. Fetching the next panel pair (decode) or work item (prefill) into L2
// while a pair computes, as the quantized tiles do, was written here but never ran: GCC
// deleted its helper's calls (kernels_isa.h: FETCH_INLINE). Made to run, it cost: BF16
// batch-16 step 1.17× the time, batch 1 1.04×, 256-token prefill mixtral-mini 1.06×,
// mistral-mini 0.93× (2 threads, Intel Xeon, interleaved A/B, 1–4 of 7 pairs faster); gone.
AMX_FN void avx512_amx_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    if (!bf16_tile_pairs_fit(w.dtype, w.rows)) return avx512_matmul_panels(y, ldy, x, T, w, ps);
    use_tile_shapes(std::min(T, 16));
    const int64_t K = w.cols, Kp = tile_pairs_cols(K), lda = bf16_act_stride(K);
    const uint16_t* a = x.packed_bf16;  // always packed (kernels.h)
    alignas(64) float sums[4][16 * 16];
    const int64_t panel_bytes = Kp * PANEL_ROWS * 2;
    const auto panel_at = [&](int64_t at) { return (const char*)w.data + at * panel_bytes; };
    for (int t0 = 0; t0 < T; t0 += 32) {
        const bool two = t0 + 16 < T;  // a second token tile
        const uint16_t* a0 = a + t0 * lda, *a1 = a0 + 16 * lda;
        for (int i = 0; i < ps.n; i += 2) {
            const int64_t at[2] = {ps.at(i), ps.at(std::min(i + 1, ps.n - 1))};
            const uint16_t* b[2];
            for (int p = 0; p < 2; p++) b[p] = (const uint16_t*)panel_at(at[p]);
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            _tile_loadd(6, b[0], 64);
            _tile_loadd(7, b[1], 64);
            for (int64_t k = 0; k < Kp; k += KC) {
                if (t0 == 0)
                    for (int p = 0; p < 2; p++)
                        for (int l = 0; l < KC * PANEL_ROWS * 2; l += 64) _mm_prefetch((const char*)(b[p] + k * PANEL_ROWS) + FETCH_BYTES + l, _MM_HINT_T0);
                const bool last = k + KC == Kp;
                const int64_t c = k / KC * BF16_ACT_TILES;  // this k step's hi tile in a token tile
                _tile_loadd(4, a0 + c, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_loadd(5, a0 + c + BF16_ACT_TILES / 2, 64);
                _tile_dpbf16ps(0, 5, 6);
                if (two) {
                    _tile_dpbf16ps(1, 5, 7);
                    _tile_loadd(4, a1 + c, 64);
                    _tile_dpbf16ps(2, 4, 6);
                    _tile_dpbf16ps(3, 4, 7);
                    _tile_loadd(5, a1 + c + BF16_ACT_TILES / 2, 64);
                    _tile_dpbf16ps(2, 5, 6);
                    if (!last) _tile_loadd(6, b[0] + (k + KC) * PANEL_ROWS, 64);
                    _tile_dpbf16ps(3, 5, 7);
                } else {
                    if (!last) _tile_loadd(6, b[0] + (k + KC) * PANEL_ROWS, 64);
                    _tile_dpbf16ps(1, 5, 7);
                }
                if (!last) _tile_loadd(7, b[1] + (k + KC) * PANEL_ROWS, 64);
            }
            _tile_stored(0, sums[0], 64);
            _tile_stored(1, sums[1], 64);
            _tile_stored(2, sums[2], 64);
            _tile_stored(3, sums[3], 64);
            for (int p = 0; p < (i + 1 < ps.n ? 2 : 1); p++) {
                store_sums(y, ldy, T, t0, w, at[p], sums[p]);
                if (two) store_sums(y, ldy, T, t0 + 16, w, at[p], sums[2 + p]);
            }
        }
    }
}

// The kernel's four sums against two token tiles and two weight tiles, held in the tiles:
// 4 tdpbf16ps a round of 16 × 16 × 32 products each.
AMX_FN double avx512_amx_bf16_probe(int64_t iters, float* sink) {
    use_tile_shapes(16);
    alignas(64) uint16_t ones[16 * 32];
    for (uint16_t& v : ones) v = 0x3F80;  // 1.0 in bf16
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t i = 0; i < iters; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    alignas(64) float sums[16 * 16];
    _tile_stored(0, sums, 64);
    *sink += sums[0];
    return 4.0 * 2 * 16 * 16 * TILE_PAIRS_K * (double)iters;
}
#endif
