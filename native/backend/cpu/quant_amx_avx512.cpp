// Q8_0 / Q4_0 weights through AMX-INT8 (the avx512_amx table) in calls of AMX_MIN_TOKENS tokens
// or more — prefill, wide batches; fewer go to the avx512 table's VNNI kernels. Both give every
// table's bits: tdpbssd sums a block's 32 products of signed bytes exactly, as vpdpbusd does,
// and the float step after it is kernels.h's chain, acc = fma((float)s_b, d_w·d_x, acc), block
// by block. So the switch between them by call size keeps batch invariance.
//
// Each 32-column block has scales of its own, so a tile product spans one block (K = 32) and
// its 16 × 16 int32 sums go out through memory for the float step: 3 vector operations per 16
// outputs a block (cvt, mul, fma), where the VNNI kernels spend 11 (8 vpdpbusd and those 3) on
// a CPU whose one 512-bit port does all of them. A harness of this loop (one thread, Intel Xeon,
// 256 tokens × 2,048 × 1,024, weights and activations in cache) ran 650–720 G int8 ops/s, its
// float step alone 0.6× that time and its tile work alone 0.5×.
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "amx_tiles.h"
#include "avx512_common.h"

#define AMX_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c,amx-tile,amx-int8")))

static const int AMX_MIN_TOKENS = 16;

// A work item's panels copied once for its token tiles: each block COPY_BLOCK bytes, the 16
// rows' scales as f32, then the weights as the B tile of tdpbssd (8 rows of 16 columns × 4
// bytes: panel_layout.h's group order) in signed bytes — Q8_0's q, Q4_0's nibble − 8.
static const int COPY_BLOCK = 64 + 512, COPY_WEIGHTS = 64;

template <bool Q4>
AMX_FN static void copy_panel(const uint8_t* panel, int64_t nb, uint8_t* out) {
    const int block_bytes = Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    for (int64_t b = 0; b < nb; b++, panel += block_bytes, out += COPY_BLOCK) {
        _mm512_store_ps((float*)out, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)panel)));
        const uint8_t* q = panel + 2 * PANEL_ROWS;
        if constexpr (Q4) {
            const __m512i low4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
            for (int j = 0; j < 4; j++) {
                const __m512i v = _mm512_loadu_si512(q + 64 * j);
                _mm512_store_si512(out + COPY_WEIGHTS + 64 * j, _mm512_sub_epi8(_mm512_and_si512(v, low4), eight));
                _mm512_store_si512(out + COPY_WEIGHTS + 64 * (j + 4), _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), low4), eight));
            }
        } else {
            for (int g = 0; g < 8; g++)
                _mm512_store_si512(out + COPY_WEIGHTS + 64 * g, _mm512_xor_si512(_mm512_loadu_si512(q + 64 * g), _mm512_set1_epi8((char)0x80)));
        }
    }
}

// Tiles 0–3 the int32 sums (token tile a × panel b at 2a + b), 4–5 two token tiles' activations
// (16 rows of one block's 32 bytes), 6–7 two panels' weights (8 rows of 64 bytes).
static void use_tile_shapes() {
    amx_use_shapes({100, {16, 16, 16, 16, 16, 16, 8, 8}, {64, 64, 64, 64, 32, 32, 64, 64}});
}

// Where a token tile's activations lie for tileloadd: block b's 16 rows of 32 bytes at
// qs + b·block_step, a stride apart. Whole tiles read the activation blocks where they are; a
// last tile of fewer than 16 tokens reads them from a copy whose rows past T are zero.
struct token_tile {
    const int8_t* qs;
    int64_t block_step, stride;
    int rows;
};

AMX_FN static token_tile tile_at(const qact_rows& x, int t0, int T, int8_t* tail) {
    const int rows = std::min(16, T - t0);
    if (rows == 16) return {x.row(t0)->qs, (int64_t)sizeof(block_q8_act), x.nb * (int64_t)sizeof(block_q8_act), 16};
    for (int64_t b = 0; b < x.nb; b++)
        for (int t = 0; t < 16; t++) {
            const __m256i q = t < rows ? _mm256_loadu_si256((const __m256i*)x.row(t0 + t)[b].qs) : _mm256_setzero_si256();
            _mm256_store_si256((__m256i*)(tail + (b * 16 + t) * QK), q);
        }
    return {tail, 16 * QK, QK, rows};
}

// Panels i and i + 1 of the copy (i alone, twice, where it is the last) against tokens
// [t0, t0 + 32) below T, block by block; sums[c] of token tile c / 2 × panel c % 2, acc likewise.
AMX_FN static void tile_pair(float* y, int64_t ldy, const qact_rows& x, int t0, int T, const tensor& w, const panel_set& ps,
                             int i, const uint8_t* copy, int8_t* tail) {
    const int64_t nb = x.nb;
    const token_tile a[2] = {tile_at(x, t0, T, tail), t0 + 16 < T ? tile_at(x, t0 + 16, T, tail) : token_tile{}};
    const bool two = a[1].rows > 0;
    const int pair = i + 1 < ps.n ? 2 : 1;
    const uint8_t* panel[2] = {copy + i * nb * COPY_BLOCK, copy + (i + pair - 1) * nb * COPY_BLOCK};
    const block_q8_act* xs[32];
    for (int t = 0; t < a[0].rows + a[1].rows; t++) xs[t] = x.row(t0 + t);
    alignas(64) int32_t sums[4][16 * 16];
    alignas(64) float acc[4][16 * 16] = {};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t* blk[2] = {panel[0] + b * COPY_BLOCK, panel[1] + b * COPY_BLOCK};
        _tile_zero(0);
        _tile_zero(1);
        _tile_loadd(4, a[0].qs + b * a[0].block_step, a[0].stride);
        _tile_loadd(6, blk[0] + COPY_WEIGHTS, 64);
        _tile_loadd(7, blk[1] + COPY_WEIGHTS, 64);
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_stored(0, sums[0], 64);
        _tile_stored(1, sums[1], 64);
        if (two) {
            _tile_zero(2);
            _tile_zero(3);
            _tile_loadd(5, a[1].qs + b * a[1].block_step, a[1].stride);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
            _tile_stored(2, sums[2], 64);
            _tile_stored(3, sums[3], 64);
        }
        for (int c = 0; c < (two ? 4 : 2); c++) {
            const __m512 dw = _mm512_load_ps((const float*)blk[c % 2]);
            for (int t = 0, t_at = c / 2 * 16; t < a[c / 2].rows; t++) {
                const __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512(sums[c] + 16 * t));
                const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(xs[t_at + t][b].d));
                _mm512_store_ps(acc[c] + 16 * t, _mm512_fmadd_ps(s, scale, _mm512_load_ps(acc[c] + 16 * t)));
            }
        }
    }
    for (int c = 0; c < (two ? 4 : 2); c++) {
        if (c % 2 >= pair) continue;
        const int64_t at = ps.at(i + c % 2);
        const __mmask16 m = (__mmask16)((1u << panel_rows(w.rows, at)) - 1);
        for (int t = 0; t < a[c / 2].rows; t++) _mm512_mask_storeu_ps(y + (t0 + c / 2 * 16 + t) * ldy + at * PANEL_ROWS, m, _mm512_load_ps(acc[c] + 16 * t));
    }
}

// The work item's panels copied once, then every 32 tokens against them two panels at a time.
template <bool Q4>
AMX_FN static void quant_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    use_tile_shapes();
    const int64_t nb = x.nb, panel_bytes = nb * (Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK);
    uint8_t* copy = thread_copy_buffer((size_t)ps.n * nb * COPY_BLOCK + (size_t)nb * 16 * QK);
    int8_t* tail = (int8_t*)copy + ps.n * nb * COPY_BLOCK;
    for (int p = 0; p < ps.n; p++) copy_panel<Q4>((const uint8_t*)w.data + ps.at(p) * panel_bytes, nb, copy + p * nb * COPY_BLOCK);
    for (int t0 = 0; t0 < T; t0 += 32)
        for (int i = 0; i < ps.n; i += 2) tile_pair(y, ldy, x, t0, T, w, ps, i, copy, tail);
}

AMX_FN void avx512_amx_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    if (T < AMX_MIN_TOKENS || x.idx) return avx512_quant_matmul_panels(y, ldy, x, T, w, ps);
    if (w.dtype == DT_Q8_0) quant_panels<false>(y, ldy, x, T, w, ps);
    else quant_panels<true>(y, ldy, x, T, w, ps);
}

// Four tdpbssd a round of 16 × 16 × 64 products each, held in the tiles: the unit's peak.
AMX_FN double avx512_amx_int8_probe(int64_t iters, int32_t* sink) {
    amx_use_shapes({101, {16, 16, 16, 16, 16, 16, 16, 16}, {64, 64, 64, 64, 64, 64, 64, 64}});
    alignas(64) int8_t ones[16 * 64];
    for (int8_t& v : ones) v = 1;
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t i = 0; i < iters; i++) {
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
    }
    alignas(64) int32_t sums[16 * 16];
    _tile_stored(0, sums, 64);
    *sink += sums[0];
    return 4.0 * 2 * 16 * 16 * 64 * (double)iters;
}
#endif
