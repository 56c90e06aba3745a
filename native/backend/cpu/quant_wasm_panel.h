// The WASM tables' quantized matmul (quant_wasm_simd128.cpp, quant_wasm_relaxed_simd.cpp): a
// panel against a token, block by block. A table's Sums gives each row's integer Σ q·x of a
// block — exact, so any instructions give the same sums — and the float step after it is the
// same here for every table: tables whose sums agree give the same bits.
#pragma once
#include "wasm_simd128_common.h"

// Sums::q8 / Sums::q4 (q: the block's weight bytes after its 16 scales, x: its activations)
// write s[h] = the signed Σ q·x of rows 4h … 4h + 3, one row a lane.
template <int BLOCK_BYTES, void (*SUMS)(const uint8_t* q, const block_q8_act& x, v128_t s[4])>
static void wasm_quant_panel_token(float* y, const block_q8_act* xt, int64_t nb, const tensor& w, int64_t p) {
    v128_t acc[4];
    for (auto& a : acc) a = wasm_f32x4_splat(0);
    const uint8_t* blk = (const uint8_t*)w.data + p * nb * BLOCK_BYTES;
    for (int64_t b = 0; b < nb; b++, blk += BLOCK_BYTES) {
        v128_t s[4];
        SUMS(blk + 2 * PANEL_ROWS, xt[b], s);
        const v128_t dx = wasm_f32x4_splat(xt[b].d);
        for (int h = 0; h < 4; h++) {
            const v128_t dw = f16x4_to_f32(wasm_u32x4_load16x4(blk + 8 * h));
            acc[h] = madd4(wasm_f32x4_convert_i32x4(s[h]), wasm_f32x4_mul(dw, dx), acc[h]);
        }
    }
    const int64_t r0 = p * PANEL_ROWS;
    for (int h = 0; h < 4 && r0 + 4 * h < w.rows; h++) store_lanes(y + r0 + 4 * h, acc[h], w.rows - r0 - 4 * h);
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

// 16 unsigned weight bytes (4 rows × 4) against an activation group: per row two i32 partial
// sums, [r0 r0 r1 r1] and [r2 r2 r3 r3], added to lo and hi.
inline void dot_quad(v128_t w, v128_t xg, v128_t* lo, v128_t* hi) {
    *lo = wasm_i32x4_add(*lo, wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(w), xg));
    *hi = wasm_i32x4_add(*hi, wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(w), xg));
}

// The unsigned weights' sums, one row a lane, less bias · Σ x: the signed weights' sums.
inline void finish_sums(const v128_t lo[4], const v128_t hi[4], int32_t bias, const block_q8_act& x, v128_t s[4]) {
    const v128_t offset = wasm_i32x4_splat(-bias * x.sum);
    for (int h = 0; h < 4; h++)
        s[h] = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_shuffle(lo[h], hi[h], 0, 2, 4, 6), wasm_i32x4_shuffle(lo[h], hi[h], 1, 3, 5, 7)), offset);
}

struct Simd128Sums {
    // Stored q + 128 as it is: Σ q·x = Σ (q + 128)·x − 128·Σ x.
    static void q8(const uint8_t* q, const block_q8_act& x, v128_t s[4]) {
        v128_t lo[4], hi[4];
        for (int h = 0; h < 4; h++) lo[h] = hi[h] = wasm_i32x4_splat(0);
        for (int g = 0; g < 8; g++) {
            const v128_t xg = group16(x, g);
            for (int h = 0; h < 4; h++) dot_quad(wasm_v128_load(q + g * 64 + h * 16), xg, &lo[h], &hi[h]);
        }
        finish_sums(lo, hi, 128, x, s);
    }
    // Nibbles n as they are: Σ (n − 8)·x = Σ n·x − 8·Σ x.
    static void q4(const uint8_t* q, const block_q8_act& x, v128_t s[4]) {
        v128_t lo[4], hi[4];
        for (int h = 0; h < 4; h++) lo[h] = hi[h] = wasm_i32x4_splat(0);
        const v128_t low4 = wasm_i8x16_splat(0x0F);
        for (int j = 0; j < 4; j++) {
            const v128_t xl = group16(x, j), xh = group16(x, j + 4);
            for (int h = 0; h < 4; h++) {
                const v128_t v = wasm_v128_load(q + j * 64 + h * 16);
                dot_quad(wasm_v128_and(v, low4), xl, &lo[h], &hi[h]);
                dot_quad(wasm_u8x16_shr(v, 4), xh, &lo[h], &hi[h]);
            }
        }
        finish_sums(lo, hi, 8, x, s);
    }
};

template <class Sums>
static void wasm_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t p0, int np) {
    for (int64_t p = p0; p < p0 + np; p++)
        for (int t = 0; t < T; t++) {
            if (w.dtype == DT_Q8_0) wasm_quant_panel_token<Q8_PANEL_BLOCK, Sums::q8>(y + t * ldy, x.row(t), x.nb, w, p);
            else wasm_quant_panel_token<Q4_PANEL_BLOCK, Sums::q4>(y + t * ldy, x.row(t), x.nb, w, p);
        }
}

