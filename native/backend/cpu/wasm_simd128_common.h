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

// 4 halves, each in the high 16 bits of its u32 lane, → f32, exactly: shifted right by 3 (the
// sign kept, its copies cleared) the exponent and mantissa sit where f32's do, 2⁻¹¹² of the value
// for normal and subnormal halves alike; Inf/NaN (exponent all ones) take f32's all-ones one.
inline v128_t f16_high_to_f32(v128_t t) {
    const v128_t a = wasm_v128_and(wasm_i32x4_shr(t, 3), wasm_i32x4_splat((int32_t)0x8FFFFFFF));
    const v128_t f = wasm_f32x4_mul(a, wasm_f32x4_splat(0x1p112f));
    const v128_t e = wasm_i32x4_splat(0x7C000000);
    const v128_t special = wasm_i32x4_eq(wasm_v128_and(t, e), e);
    return wasm_v128_or(f, wasm_v128_and(special, wasm_i32x4_splat(0x7F800000)));
}

// 4 halves in the low 16 bits of each u32 lane → f32.
inline v128_t f16x4_to_f32(v128_t h) { return f16_high_to_f32(wasm_i32x4_shl(h, 16)); }

// Elements [i, i + 8) of a float-dtype row as two f32x4.
template <int D>
inline void load8(const void* base, int64_t i, v128_t* lo, v128_t* hi) {
    if constexpr (D == DT_F32) {
        *lo = wasm_v128_load((const float*)base + i);
        *hi = wasm_v128_load((const float*)base + i + 4);
        return;
    }
    // Each half into the high 16 bits of a u32 lane: bf16 is then f32 already.
    const v128_t h = wasm_v128_load((const uint16_t*)base + i), zero = wasm_i16x8_splat(0);
    const v128_t a = wasm_i16x8_shuffle(zero, h, 0, 8, 1, 9, 2, 10, 3, 11), b = wasm_i16x8_shuffle(zero, h, 4, 12, 5, 13, 6, 14, 7, 15);
    if constexpr (D == DT_F16) {
        *lo = f16_high_to_f32(a), *hi = f16_high_to_f32(b);
    } else {
        *lo = a, *hi = b;
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
