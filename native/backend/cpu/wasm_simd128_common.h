// What the WASM SIMD128 kernel files share. WebAssembly has no fused multiply-add (relaxed
// SIMD's madd may or may not fuse, depending on the host), so this table rounds each product:
// its outputs follow the other tables' chains step for step (kernels.h) with a mul and an add
// where they fma — its own bits, still batch-invariant, within tolerance of the reference.
#pragma once
#include <wasm_simd128.h>

#include <cstdint>

#include "kernels_isa.h"

// acc + a·b, rounded twice.
inline v128_t madd4(v128_t a, v128_t b, v128_t acc) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

// 4 halves (in the low 16 bits of each u32 lane) → f32, exactly: the exponent and mantissa
// shifted into place are 2⁻¹¹² of the value for normal and subnormal halves alike; Inf/NaN
// take the all-ones exponent.
inline v128_t f16x4_to_f32(v128_t h) {
    const v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7FFF));
    const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
    const v128_t shifted = wasm_i32x4_shl(em, 13);
    const v128_t finite = wasm_f32x4_mul(shifted, wasm_f32x4_splat(0x1p112f));
    const v128_t special = wasm_v128_or(shifted, wasm_i32x4_splat(0x7F800000));
    return wasm_v128_or(wasm_v128_bitselect(special, finite, wasm_i32x4_gt(em, wasm_i32x4_splat(0x7BFF))), sign);
}

// Elements [i, i + 8) of a float-dtype row as two f32x4.
template <int D>
inline void load8(const void* base, int64_t i, v128_t* lo, v128_t* hi) {
    if constexpr (D == DT_F32) {
        *lo = wasm_v128_load((const float*)base + i);
        *hi = wasm_v128_load((const float*)base + i + 4);
        return;
    }
    const v128_t h = wasm_v128_load((const uint16_t*)base + i);
    const v128_t a = wasm_u32x4_extend_low_u16x8(h), b = wasm_u32x4_extend_high_u16x8(h);
    if constexpr (D == DT_F16) {
        *lo = f16x4_to_f32(a), *hi = f16x4_to_f32(b);
    } else {
        *lo = wasm_i32x4_shl(a, 16), *hi = wasm_i32x4_shl(b, 16);
    }
}

// exp_poly (kernels_isa.h) on 4 lanes, each fma a mul and an add.
inline v128_t exp4(v128_t x) {
    x = wasm_f32x4_pmax(x, wasm_f32x4_splat(EXP_MIN));  // x < min ? min : x, so a NaN x stays
    x = wasm_f32x4_pmin(x, wasm_f32x4_splat(EXP_MAX));
    const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(LOG2E)));
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(LN2_HI)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(LN2_LO)));
    v128_t p = wasm_f32x4_splat(EXP_POLY[5]);
    for (int i = 4; i >= 0; i--) p = madd4(p, r, wasm_f32x4_splat(EXP_POLY[i]));
    p = madd4(p, wasm_f32x4_mul(r, r), wasm_f32x4_add(r, wasm_f32x4_splat(1.0f)));
    const v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_f32x4_mul(p, e);
}

inline float hsum4(v128_t v) {
    return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 2)) +
           (wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 3));
}

// The first n (≤ 4) lanes of v to out: rows past the matrix's last are not written.
inline void store_lanes(float* out, v128_t v, int64_t n) {
    if (n >= 4) return wasm_v128_store(out, v);
    alignas(16) float lanes[4];
    wasm_v128_store(lanes, v);
    for (int64_t i = 0; i < n; i++) out[i] = lanes[i];
}
