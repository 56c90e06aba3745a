// WASM SIMD128 attention kernels (kernels.h): each key or value row loaded once for up to 4
// query heads that share it, head_dim in 8s (two vectors), a tail of fewer than 8 (odd test
// shapes) scalar.
#include <type_traits>

#include "kernels_isa.h"

#if defined(__wasm_simd128__)
#include "wasm_simd128_common.h"

template <bool F16>
static inline void load_row8(const void* row, int d, v128_t* lo, v128_t* hi) {
    if (F16) return load8<DT_F16>(row, d, lo, hi);
    load8<DT_F32>(row, d, lo, hi);
}
template <bool F16>
static inline float row_elem(const void* row, int d) {
    return F16 ? f16_to_f32(((const uint16_t*)row)[d]) : ((const float*)row)[d];
}

// One key against G query heads: the key's 8-element slices loaded (and widened) once for
// all of them, each head's sum in two lanes-of-4 accumulators as a row-at-a-time dot product
// would. Widened once per head before: mixtral-mini Q4_0 in Node, one thread, the extra time
// of a step at 2,048 tokens over one at 64 went from 23–26 to 10–16 ms (2 of 2 alternating
// runs), at 1,024 from 13 to 4–8 ms.
template <bool F16, int G>
static void scores_row(float* s, int64_t lds, const float* q, int D, const void* key, float scale) {
    v128_t a[G], b[G];
    for (int r = 0; r < G; r++) a[r] = b[r] = wasm_f32x4_splat(0);
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        v128_t lo, hi;
        load_row8<F16>(key, d, &lo, &hi);
        for (int r = 0; r < G; r++) {
            a[r] = madd4(wasm_v128_load(q + r * D + d), lo, a[r]);
            b[r] = madd4(wasm_v128_load(q + r * D + d + 4), hi, b[r]);
        }
    }
    for (int r = 0; r < G; r++) {
        float sum = hsum4(wasm_f32x4_add(a[r], b[r]));
        for (int t = d; t < D; t++) sum += q[r * D + t] * row_elem<F16>(key, t);
        s[r * lds] = scale * sum;
    }
}

template <bool F16, int G>
static void scores(float* s, int64_t lds, const float* q, int D, const attn_rows& rows, float scale) {
    for (int j = 0; j < rows.n; j++) scores_row<F16, G>(s + j, lds, q, D, rows.keys[j], scale);
}

// Columns [d, d + 8) of G heads' outputs held in registers while every value row streams by,
// each row's slice widened once for all heads.
template <bool F16, int G>
static void values_columns(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows, int d) {
    v128_t lo_acc[G], hi_acc[G];
    for (int r = 0; r < G; r++) lo_acc[r] = wasm_v128_load(o + r * D + d), hi_acc[r] = wasm_v128_load(o + r * D + d + 4);
    for (int j = 0; j < rows.n; j++) {
        v128_t lo, hi;
        load_row8<F16>(rows.values[j], d, &lo, &hi);
        for (int r = 0; r < G; r++) {
            const v128_t wv = wasm_f32x4_splat(w[r * ldw + j]);
            lo_acc[r] = madd4(wv, lo, lo_acc[r]);
            hi_acc[r] = madd4(wv, hi, hi_acc[r]);
        }
    }
    for (int r = 0; r < G; r++) wasm_v128_store(o + r * D + d, lo_acc[r]), wasm_v128_store(o + r * D + d + 4, hi_acc[r]);
}

template <bool F16, int G>
static void values(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows) {
    int d = 0;
    for (; d + 8 <= D; d += 8) values_columns<F16, G>(o, w, ldw, D, rows, d);
    for (; d < D; d++)  // a tail of fewer than 8 (odd test shapes)
        for (int r = 0; r < G; r++)
            for (int j = 0; j < rows.n; j++) o[r * D + d] += w[r * ldw + j] * row_elem<F16>(rows.values[j], d);
}

// G query heads in groups of 4 (GQA's usual 4 a KV head), then 2, then 1:
// fn(std::integral_constant<int, n>, first head of the group).
template <typename F>
static void for_head_groups(int G, F fn) {
    int r = 0;
    for (; r + 4 <= G; r += 4) fn(std::integral_constant<int, 4>(), r);
    for (; r + 2 <= G; r += 2) fn(std::integral_constant<int, 2>(), r);
    for (; r < G; r++) fn(std::integral_constant<int, 1>(), r);
}

void wasm_simd128_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for_head_groups(G, [&](auto n, int r) {
        if (rows.f16) scores<true, n>(s + r * lds, lds, q + r * D, D, rows, scale);
        else scores<false, n>(s + r * lds, lds, q + r * D, D, rows, scale);
    });
}

void wasm_simd128_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for_head_groups(G, [&](auto n, int r) {
        if (rows.f16) values<true, n>(o + r * D, w + r * ldw, ldw, D, rows);
        else values<false, n>(o + r * D, w + r * ldw, ldw, D, rows);
    });
}
#endif
