// WASM SIMD128 attention kernels (kernels.h): a key or value row at a time for each query
// head, head_dim in 8s (two vectors), a tail of fewer than 8 (odd test shapes) scalar.
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

template <bool F16>
static float dot_row(const float* q, const void* key, int D) {
    v128_t a = wasm_f32x4_splat(0), b = wasm_f32x4_splat(0);
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        v128_t lo, hi;
        load_row8<F16>(key, d, &lo, &hi);
        a = madd4(wasm_v128_load(q + d), lo, a);
        b = madd4(wasm_v128_load(q + d + 4), hi, b);
    }
    float s = hsum4(wasm_f32x4_add(a, b));
    for (; d < D; d++) s += q[d] * row_elem<F16>(key, d);
    return s;
}

template <bool F16>
static void add_row(float* o, float wj, const void* value, int D) {
    const v128_t wv = wasm_f32x4_splat(wj);
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        v128_t lo, hi;
        load_row8<F16>(value, d, &lo, &hi);
        wasm_v128_store(o + d, madd4(wv, lo, wasm_v128_load(o + d)));
        wasm_v128_store(o + d + 4, madd4(wv, hi, wasm_v128_load(o + d + 4)));
    }
    for (; d < D; d++) o[d] += wj * row_elem<F16>(value, d);
}

template <bool F16>
static void scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for (int j = 0; j < rows.n; j++)
        for (int r = 0; r < G; r++) s[r * lds + j] = scale * dot_row<F16>(q + r * D, rows.keys[j], D);
}

template <bool F16>
static void values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for (int j = 0; j < rows.n; j++)
        for (int r = 0; r < G; r++) add_row<F16>(o + r * D, w[r * ldw + j], rows.values[j], D);
}

void wasm_simd128_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    if (rows.f16) scores<true>(s, lds, q, G, D, rows, scale);
    else scores<false>(s, lds, q, G, D, rows, scale);
}

void wasm_simd128_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    if (rows.f16) values<true>(o, w, ldw, G, D, rows);
    else values<false>(o, w, ldw, G, D, rows);
}
#endif
