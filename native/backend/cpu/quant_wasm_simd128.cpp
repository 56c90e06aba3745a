// WASM SIMD128 integer kernels for Q8_0 / Q4_0 weights in the panel layout: kernels_scalar.cpp's
// quantized code, 4 rows to a vector (quant_wasm_panel.h), each product widened to i16.
#include "kernels_isa.h"

#if defined(__wasm_simd128__)
#include "quant_wasm_panel.h"

void wasm_simd128_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    wasm_quant_matmul_panels<Simd128Sums>(y, ldy, x, T, w, ps);
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
        set_act_sum(out[b], wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) +
                                wasm_i32x4_extract_lane(sum, 2) + wasm_i32x4_extract_lane(sum, 3));
    }
}

// 8 independent chains of extend + dot + add: the integer kernels' inner step (8 products).
// Each chain's bytes are its own sum so far: with fixed operands the compiler hoists the
// products out of the loop and the probe times additions.
double wasm_simd128_int8_probe(int64_t iters, int32_t* sink) {
    v128_t a[8];
    for (int j = 0; j < 8; j++) a[j] = wasm_i32x4_splat(j);
    const v128_t x = wasm_i16x8_splat(-2);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = wasm_i32x4_add(v, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v), x));
    v128_t s = a[0];
    for (int j = 1; j < 8; j++) s = wasm_i32x4_add(s, a[j]);
    *sink += wasm_i32x4_extract_lane(s, 0);
    return 2.0 * 8 * 8 * (double)iters;
}
#endif
