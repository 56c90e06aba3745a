// WASM SIMD128 attention kernels (kernels.h): each key or value row loaded once for up to 4
// query heads that share it, head_dim in 8s (two vectors), a tail of fewer than 8 (odd test
// shapes) scalar.
#include <type_traits>

#include "kernels_isa.h"

#if defined(__wasm_simd128__)
#include "wasm_simd128_common.h"

// Elements [d, d + 8) of a row as two f32x4: kv_elem's numbers.
template <kv_dtype_t R>
static inline void load_row8(const void* row, int D, int d, v128_t* lo, v128_t* hi) {
    if constexpr (R == KV_Q8_0) {
        const v128_t q = wasm_i16x8_extend_low_i8x16(wasm_v128_load64_zero((const int8_t*)row + d));
        const v128_t scale = wasm_f32x4_splat(kv_q8_scales(row, D)[d / QK]);
        *lo = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(q)), scale);
        *hi = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(q)), scale);
        return;
    }
    load8<R == KV_F16 ? DT_F16 : DT_F32>(row, d, lo, hi);
}

// One key against G query heads: the key's 8-element slices loaded (and widened) once for
// all of them, each head's sum in two lanes-of-4 accumulators as a row-at-a-time dot product
// would. Widened once per head before: mixtral-mini Q4_0 in Node, one thread, the extra time
// of a step at 2,048 tokens over one at 64 went from 23–26 to 10–16 ms (2 of 2 alternating
// runs), at 1,024 from 13 to 4–8 ms.
template <kv_dtype_t R, int G>
static void scores_row(float* s, int64_t lds, const float* q, int D, const void* key, float scale) {
    v128_t a[G], b[G];
    for (int r = 0; r < G; r++) a[r] = b[r] = wasm_f32x4_splat(0);
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        v128_t lo, hi;
        load_row8<R>(key, D, d, &lo, &hi);
        for (int r = 0; r < G; r++) {
            a[r] = madd4(wasm_v128_load(q + r * D + d), lo, a[r]);
            b[r] = madd4(wasm_v128_load(q + r * D + d + 4), hi, b[r]);
        }
    }
    for (int r = 0; r < G; r++) {
        float sum = hsum4(wasm_f32x4_add(a[r], b[r]));
        for (int t = d; t < D; t++) sum += q[r * D + t] * kv_elem<R>(key, D, t);
        s[r * lds] = scale * sum;
    }
}

template <kv_dtype_t R, int G>
static void scores(float* s, int64_t lds, const float* q, int D, const attn_rows& rows, float scale) {
    for (int j = 0; j < rows.n; j++) scores_row<R, G>(s + j, lds, q, D, rows.keys[j], scale);
}

// Columns [d, d + 8) of G heads' outputs held in registers while every value row streams by,
// each row's slice widened once for all heads.
template <kv_dtype_t R, int G>
static void values_columns(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows, int d) {
    v128_t lo_acc[G], hi_acc[G];
    for (int r = 0; r < G; r++) lo_acc[r] = wasm_v128_load(o + r * D + d), hi_acc[r] = wasm_v128_load(o + r * D + d + 4);
    for (int j = 0; j < rows.n; j++) {
        v128_t lo, hi;
        load_row8<R>(rows.values[j], D, d, &lo, &hi);
        for (int r = 0; r < G; r++) {
            const v128_t wv = wasm_f32x4_splat(w[r * ldw + j]);
            lo_acc[r] = madd4(wv, lo, lo_acc[r]);
            hi_acc[r] = madd4(wv, hi, hi_acc[r]);
        }
    }
    for (int r = 0; r < G; r++) wasm_v128_store(o + r * D + d, lo_acc[r]), wasm_v128_store(o + r * D + d + 4, hi_acc[r]);
}

template <kv_dtype_t R, int G>
static void values(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows) {
    int d = 0;
    for (; d + 8 <= D; d += 8) values_columns<R, G>(o, w, ldw, D, rows, d);
    for (; d < D; d++)  // a tail of fewer than 8 (odd test shapes)
        for (int r = 0; r < G; r++)
            for (int j = 0; j < rows.n; j++) o[r * D + d] += w[r * ldw + j] * kv_elem<R>(rows.values[j], D, d);
}

// G query heads in parts of 4, 2, 1 (kernels_isa.h: head_part), each with the kernel for the
// rows' dtype: fn(std::integral_constant<kv_dtype_t, R>, std::integral_constant<int, n>, first
// head of the part).
template <typename F>
static void for_head_parts(int G, kv_dtype_t dtype, F fn) {
    auto by_dtype = [&](auto n, int r) {
        if (dtype == KV_F16) fn(std::integral_constant<kv_dtype_t, KV_F16>(), n, r);
        else if (dtype == KV_Q8_0) fn(std::integral_constant<kv_dtype_t, KV_Q8_0>(), n, r);
        else fn(std::integral_constant<kv_dtype_t, KV_F32>(), n, r);
    };
    for (int r = 0, n; r < G; r += n) {
        n = head_part(G - r, 4);
        if (n == 4) by_dtype(std::integral_constant<int, 4>(), r);
        else if (n == 2) by_dtype(std::integral_constant<int, 2>(), r);
        else by_dtype(std::integral_constant<int, 1>(), r);
    }
}

void wasm_simd128_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for_head_parts(G, rows.dtype, [&](auto R, auto n, int r) { scores<R, n>(s + r * lds, lds, q + r * D, D, rows, scale); });
}

void wasm_simd128_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for_head_parts(G, rows.dtype, [&](auto R, auto n, int r) { values<R, n>(o + r * D, w + r * ldw, ldw, D, rows); });
}
#endif
