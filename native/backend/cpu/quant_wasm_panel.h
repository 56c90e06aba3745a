// The WASM tables' quantized matmul (quant_wasm_simd128.cpp, quant_wasm_relaxed_simd.cpp): a
// panel against a tile of up to TILE tokens, block by block, each weight vector unpacked and
// each block's scales widened once for the tile. A table's Sums gives each row's integer
// Σ q·x of a block — exact, so any instructions give the same sums — and the float step after
// it is the same here for every table and tile: tables whose sums agree give the same bits.
#pragma once
#include "wasm_simd128_common.h"

constexpr int TILE = 2;

// Sums::q8<NT> / Sums::q4<NT> (q: the block's weight bytes after its 16 scales, x[t]: token t's
// activations of the block) write s[t][h] = the signed Σ q·x of rows 4h … 4h + 3, a row a lane.
template <class Sums, bool Q4, int NT>
static void wasm_quant_panel_tile(float* y, int64_t ldy, const qact_rows& x, int t0, const tensor& w, int64_t p) {
    constexpr int BLOCK_BYTES = Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    v128_t acc[NT][4];
    for (auto& a : acc)
        for (auto& v : a) v = wasm_f32x4_splat(0);
    const uint8_t* blk = (const uint8_t*)w.data + p * x.nb * BLOCK_BYTES;
    for (int64_t b = 0; b < x.nb; b++, blk += BLOCK_BYTES) {
        const block_q8_act* xb[NT];
        for (int t = 0; t < NT; t++) xb[t] = &x.row(t0 + t)[b];
        v128_t s[NT][4];
        if constexpr (Q4) Sums::template q4<NT>(blk + 2 * PANEL_ROWS, xb, s);
        else Sums::template q8<NT>(blk + 2 * PANEL_ROWS, xb, s);
        for (int h = 0; h < 4; h++) {
            const v128_t dw = f16x4_to_f32(wasm_u32x4_load16x4(blk + 8 * h));
            for (int t = 0; t < NT; t++)
                acc[t][h] = madd4(wasm_f32x4_convert_i32x4(s[t][h]), wasm_f32x4_mul(dw, wasm_f32x4_splat(xb[t]->d)), acc[t][h]);
        }
    }
    const int64_t r0 = p * PANEL_ROWS;
    for (int t = 0; t < NT; t++)
        for (int h = 0; h < 4 && r0 + 4 * h < w.rows; h++) store_lanes(y + (t0 + t) * ldy + r0 + 4 * h, acc[t][h], w.rows - r0 - 4 * h);
}

template <class Sums, bool Q4>
static void wasm_quant_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    for (int i = 0; i < ps.n; i++) {
        const int64_t p = ps.at(i);
        int t = 0;
        for (; t + TILE <= T; t += TILE) wasm_quant_panel_tile<Sums, Q4, TILE>(y, ldy, x, t, w, p);
        for (; t < T; t++) wasm_quant_panel_tile<Sums, Q4, 1>(y, ldy, x, t, w, p);
    }
}

template <class Sums>
static void wasm_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    if (w.dtype == DT_Q8_0) wasm_quant_panels<Sums, false>(y, ldy, x, T, w, ps);
    else wasm_quant_panels<Sums, true>(y, ldy, x, T, w, ps);
}

// Activation bytes 4g … 4g + 3 of a block as one i32.
inline int32_t act_group(const block_q8_act& x, int g) {
    int32_t v;
    __builtin_memcpy(&v, x.qs + 4 * g, 4);
    return v;
}

// SIMD128's sums (the relaxed table keeps its Q8_0 ones): each product widened to i16.
// Activation group g of a block (4 bytes) as i16, twice: [x0 x1 x2 x3 x0 x1 x2 x3].
inline v128_t group16(const block_q8_act& x, int g) {
    return wasm_i16x8_extend_low_i8x16(wasm_i32x4_splat(act_group(x, g)));
}

// Unsigned weight bytes (4 rows × 4), already widened (wl, wh: their low and high 8), against an
// activation group: per row two i32 partial sums, [r0 r0 r1 r1] and [r2 r2 r3 r3], added to lo and hi.
inline void dot_quad(v128_t wl, v128_t wh, v128_t xg, v128_t* lo, v128_t* hi) {
    *lo = wasm_i32x4_add(*lo, wasm_i32x4_dot_i16x8(wl, xg));
    *hi = wasm_i32x4_add(*hi, wasm_i32x4_dot_i16x8(wh, xg));
}

// The unsigned weights' sums, one row a lane, from `start` (−bias · Σ x): the signed weights' sums.
inline void finish_sums(const v128_t lo[4], const v128_t hi[4], int32_t start, v128_t s[4]) {
    const v128_t offset = wasm_i32x4_splat(start);
    for (int h = 0; h < 4; h++)
        s[h] = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_shuffle(lo[h], hi[h], 0, 2, 4, 6), wasm_i32x4_shuffle(lo[h], hi[h], 1, 3, 5, 7)), offset);
}

struct Simd128Sums {
    // Stored q + 128 as it is: Σ q·x = Σ (q + 128)·x − 128·Σ x.
    template <int NT>
    static void q8(const uint8_t* q, const block_q8_act* const x[NT], v128_t s[NT][4]) {
        v128_t lo[NT][4], hi[NT][4];
        for (int t = 0; t < NT; t++)
            for (int h = 0; h < 4; h++) lo[t][h] = hi[t][h] = wasm_i32x4_splat(0);
        for (int g = 0; g < 8; g++) {
            v128_t xg[NT];
            for (int t = 0; t < NT; t++) xg[t] = group16(*x[t], g);
            for (int h = 0; h < 4; h++) {
                const v128_t v = wasm_v128_load(q + g * 64 + h * 16);
                const v128_t wl = wasm_u16x8_extend_low_u8x16(v), wh = wasm_u16x8_extend_high_u8x16(v);
                for (int t = 0; t < NT; t++) dot_quad(wl, wh, xg[t], &lo[t][h], &hi[t][h]);
            }
        }
        for (int t = 0; t < NT; t++) finish_sums(lo[t], hi[t], x[t]->start_q8, s[t]);
    }
    // Nibbles n as they are: Σ (n − 8)·x = Σ n·x − 8·Σ x.
    template <int NT>
    static void q4(const uint8_t* q, const block_q8_act* const x[NT], v128_t s[NT][4]) {
        v128_t lo[NT][4], hi[NT][4];
        for (int t = 0; t < NT; t++)
            for (int h = 0; h < 4; h++) lo[t][h] = hi[t][h] = wasm_i32x4_splat(0);
        const v128_t low4 = wasm_i8x16_splat(0x0F);
        for (int j = 0; j < 4; j++) {
            v128_t xl[NT], xh[NT];
            for (int t = 0; t < NT; t++) xl[t] = group16(*x[t], j), xh[t] = group16(*x[t], j + 4);
            for (int h = 0; h < 4; h++) {
                const v128_t v = wasm_v128_load(q + j * 64 + h * 16);
                const v128_t nl = wasm_v128_and(v, low4), nh = wasm_u8x16_shr(v, 4);
                const v128_t nll = wasm_u16x8_extend_low_u8x16(nl), nlh = wasm_u16x8_extend_high_u8x16(nl);
                const v128_t nhl = wasm_u16x8_extend_low_u8x16(nh), nhh = wasm_u16x8_extend_high_u8x16(nh);
                for (int t = 0; t < NT; t++) {
                    dot_quad(nll, nlh, xl[t], &lo[t][h], &hi[t][h]);
                    dot_quad(nhl, nhh, xh[t], &lo[t][h], &hi[t][h]);
                }
            }
        }
        for (int t = 0; t < NT; t++) finish_sums(lo[t], hi[t], x[t]->start_q4, s[t]);
    }
};
