// Relaxed SIMD's Q4_0 kernel: i16x8.relaxed_dot_i8x16_i7x16 multiplies signed activation bytes
// by bytes in [0, 127] — where every host gives the same sums, exactly — 2 products to a lane.
// Q4_0's unsigned nibbles fit, so a block costs two dots per 16 weight bytes instead of
// SIMD128's widening to i16; the sums, and so the bits, are wasm_simd128's. Q8_0 keeps
// SIMD128's sums: its bytes do not fit. Built into sirocco-relaxed.wasm only
// (native/wasm/build.mjs); the table is wasm_simd128's otherwise (kernels_select.cpp).
#include "kernels_isa.h"

#if defined(__wasm_relaxed_simd__)
#include "quant_wasm_panel.h"

struct RelaxedSums {
    template <int NT>
    static void q8(const uint8_t* q, const block_q8_act* const x[NT], v128_t s[NT][4]) { Simd128Sums::q8<NT>(q, x, s); }
    // Nibbles n as they are: Σ (n − 8)·x = Σ n·x − 8·Σ x. A 16-byte load holds rows 4h … 4h + 3,
    // 4 bytes each: low nibbles for activations 4j …, high ones for 16 + 4j … The i16 dot adds
    // 2 products (|n·x| ≤ 15·127); a row's 2 lanes add 8 of those (≤ 30480), so no i16 sum
    // can overflow — nor saturate, on hosts whose dot does — before they widen, once a block.
    // (The i32 dot-add widens every time: half the speed in Chromium.)
    template <int NT>
    static void q4(const uint8_t* q, const block_q8_act* const x[NT], v128_t s[NT][4]) {
        const v128_t low4 = wasm_i8x16_splat(0x0F);
        v128_t s16[NT][4];
        for (auto& a : s16)
            for (auto& v : a) v = wasm_i16x8_splat(0);
        for (int j = 0; j < 4; j++) {
            v128_t xl[NT], xh[NT];
            for (int t = 0; t < NT; t++) xl[t] = wasm_i32x4_splat(act_group(*x[t], j)), xh[t] = wasm_i32x4_splat(act_group(*x[t], j + 4));
            for (int h = 0; h < 4; h++) {
                const v128_t v = wasm_v128_load(q + j * 64 + h * 16);
                const v128_t nl = wasm_v128_and(v, low4), nh = wasm_v128_and(wasm_u16x8_shr(v, 4), low4);
                for (int t = 0; t < NT; t++) {
                    s16[t][h] = wasm_i16x8_add(s16[t][h], wasm_i16x8_relaxed_dot_i8x16_i7x16(xl[t], nl));
                    s16[t][h] = wasm_i16x8_add(s16[t][h], wasm_i16x8_relaxed_dot_i8x16_i7x16(xh[t], nh));
                }
            }
        }
        for (int t = 0; t < NT; t++) {
            const v128_t offset = wasm_i32x4_splat(x[t]->start_q4);
            for (int h = 0; h < 4; h++) s[t][h] = wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(s16[t][h]), offset);
        }
    }
};

void wasm_relaxed_simd_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    wasm_quant_matmul_panels<RelaxedSums>(y, ldy, x, T, w, ps);
}

// 8 independent chains of the Q4_0 inner step (16 products each). Each chain's bytes are its
// own sum so far: with fixed operands the compiler hoists the products out of the loop.
double wasm_relaxed_simd_int8_probe(int64_t iters, int32_t* sink) {
    v128_t a[8];
    for (int j = 0; j < 8; j++) a[j] = wasm_i16x8_splat((int16_t)j);
    const v128_t n = wasm_i8x16_splat(7);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = wasm_i16x8_add(v, wasm_i16x8_relaxed_dot_i8x16_i7x16(v, n));
    v128_t s = a[0];
    for (int j = 1; j < 8; j++) s = wasm_i16x8_add(s, a[j]);
    *sink += wasm_i16x8_extract_lane(s, 0);
    return 2.0 * 16 * 8 * (double)iters;
}
#endif
