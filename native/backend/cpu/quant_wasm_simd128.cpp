// WASM SIMD128 integer kernels for Q8_0 / Q4_0 weights in the panel layout: kernels_scalar.cpp's
// quantized code, 4 rows to a vector. Each block's integer sums are exact (any order gives the
// same), and each block's float step is a mul and an add (wasm_simd128_common.h).
#include "kernels_isa.h"

#if defined(__wasm_simd128__)
#include "wasm_simd128_common.h"

// Activation group g of a block (4 bytes) as i16, twice: [x0 x1 x2 x3 x0 x1 x2 x3].
static inline v128_t group16(const block_q8_act& x, int g) {
    int32_t v;
    __builtin_memcpy(&v, x.qs + 4 * g, 4);
    return wasm_i16x8_extend_low_i8x16(wasm_i32x4_splat(v));
}

// 16 unsigned weight bytes (4 rows × 4) against an activation group: per row two i32 partial
// sums, [r0 r0 r1 r1] and [r2 r2 r3 r3], added to lo and hi.
static inline void dot_quad(v128_t w, v128_t xg, v128_t* lo, v128_t* hi) {
    *lo = wasm_i32x4_add(*lo, wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(w), xg));
    *hi = wasm_i32x4_add(*hi, wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(w), xg));
}

// One panel against one token, block by block: 16 rows in 4 vectors of 4.
template <bool Q4>
static void quant_panel_token(float* y, const block_q8_act* xt, int64_t nb, const tensor& w, int64_t p) {
    const int block_bytes = Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    v128_t acc[4];
    for (auto& a : acc) a = wasm_f32x4_splat(0);
    const uint8_t* blk = (const uint8_t*)w.data + p * nb * block_bytes;
    const v128_t low4 = wasm_i8x16_splat(0x0F);
    for (int64_t b = 0; b < nb; b++, blk += block_bytes) {
        const uint8_t* q = blk + 2 * PANEL_ROWS;
        v128_t lo[4], hi[4];
        for (int h = 0; h < 4; h++) lo[h] = hi[h] = wasm_i32x4_splat(0);
        if constexpr (Q4) {  // nibbles n as they are; Σ (n − 8)·x = Σ n·x − 8·Σ x below
            for (int j = 0; j < 4; j++) {
                const v128_t xl = group16(xt[b], j), xh = group16(xt[b], j + 4);
                for (int h = 0; h < 4; h++) {
                    const v128_t v = wasm_v128_load(q + j * 64 + h * 16);
                    dot_quad(wasm_v128_and(v, low4), xl, &lo[h], &hi[h]);
                    dot_quad(wasm_u8x16_shr(v, 4), xh, &lo[h], &hi[h]);
                }
            }
        } else {  // stored q + 128 as it is; Σ q·x = Σ (q + 128)·x − 128·Σ x below
            for (int g = 0; g < 8; g++) {
                const v128_t xg = group16(xt[b], g);
                for (int h = 0; h < 4; h++) dot_quad(wasm_v128_load(q + g * 64 + h * 16), xg, &lo[h], &hi[h]);
            }
        }
        const v128_t dx = wasm_f32x4_splat(xt[b].d), offset = wasm_i32x4_splat((Q4 ? -8 : -128) * xt[b].sum);
        for (int h = 0; h < 4; h++) {
            const v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_shuffle(lo[h], hi[h], 0, 2, 4, 6), wasm_i32x4_shuffle(lo[h], hi[h], 1, 3, 5, 7)), offset);
            const v128_t dw = f16x4_to_f32(wasm_u32x4_load16x4(blk + 8 * h));
            acc[h] = madd4(wasm_f32x4_convert_i32x4(s), wasm_f32x4_mul(dw, dx), acc[h]);
        }
    }
    const int64_t r0 = p * PANEL_ROWS;
    for (int h = 0; h < 4 && r0 + 4 * h < w.rows; h++) store_lanes(y + r0 + 4 * h, acc[h], w.rows - r0 - 4 * h);
}

void wasm_simd128_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t p0, int np) {
    for (int64_t p = p0; p < p0 + np; p++)
        for (int t = 0; t < T; t++) {
            if (w.dtype == DT_Q8_0) quant_panel_token<false>(y + t * ldy, x.row(t), x.nb, w, p);
            else quant_panel_token<true>(y + t * ldy, x.row(t), x.nb, w, p);
        }
}

// scalar_quantize_act's operations on 4 lanes: the same d, q and sum.
void wasm_simd128_quantize_act(const float* x, int64_t n, block_q8_act* out) {
    for (int64_t b = 0; b < n / QK; b++) {
        const float* v = x + b * QK;
        v128_t m = wasm_f32x4_splat(0);
        for (int k = 0; k < QK; k += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(v + k)));  // pmax skips a NaN, as fmax
        const float amax = std::fmax(std::fmax(wasm_f32x4_extract_lane(m, 0), wasm_f32x4_extract_lane(m, 1)),
                                     std::fmax(wasm_f32x4_extract_lane(m, 2), wasm_f32x4_extract_lane(m, 3)));
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = d;
        const v128_t idv = wasm_f32x4_splat(id);
        v128_t q32[8], sum = wasm_i32x4_splat(0);
        for (int k = 0; k < 8; k++) {
            q32[k] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(v + 4 * k), idv)));
            sum = wasm_i32x4_add(sum, q32[k]);
        }
        for (int k = 0; k < 2; k++) {
            const v128_t q16a = wasm_i16x8_narrow_i32x4(q32[4 * k], q32[4 * k + 1]), q16b = wasm_i16x8_narrow_i32x4(q32[4 * k + 2], q32[4 * k + 3]);
            wasm_v128_store(out[b].qs + 16 * k, wasm_i8x16_narrow_i16x8(q16a, q16b));
        }
        out[b].sum = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) + wasm_i32x4_extract_lane(sum, 2) +
                     wasm_i32x4_extract_lane(sum, 3);
    }
}

// 8 independent chains of extend + dot + add: the integer kernels' inner step (8 products).
double wasm_simd128_int8_probe(int64_t iters, int32_t* sink) {
    v128_t a[8];
    for (auto& v : a) v = wasm_i32x4_splat(0);
    const v128_t u = wasm_i8x16_splat(3), x = wasm_i16x8_splat(-2);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = wasm_i32x4_add(v, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(u), x));
    v128_t s = a[0];
    for (int j = 1; j < 8; j++) s = wasm_i32x4_add(s, a[j]);
    *sink += wasm_i32x4_extract_lane(s, 0);
    return 2.0 * 8 * 8 * (double)iters;
}
#endif
