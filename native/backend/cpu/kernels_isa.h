// The kernel functions each ISA file defines; kernels_select.cpp assembles them into tables.
#pragma once
#include "kernels.h"
#include "panel_layout.h"

#define DECLARE_ISA(P)                                                                                          \
    void P##_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t p0, int np); \
    void P##_quantize_act(const float* x, int64_t n, block_q8_act* out);                                       \
    void P##_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t p0,  \
                                 int np);                                                                       \
    float P##_dot(const float* a, const float* b, int n);                                                      \
    void P##_axpy(float* y, float a, const float* x, int n);                                                   \
    float P##_dot_f16(const float* a, const uint16_t* b, int n);                                               \
    void P##_axpy_f16(float* y, float a, const uint16_t* x, int n);                                            \
    void P##_widen_row(const tensor& w, int64_t row, float* dst);                                              \
    double P##_fma_probe(int64_t iters, float* sink);                                                          \
    double P##_int8_probe(int64_t iters, int32_t* sink);                                                       \
    float P##_softmax_exp(float* x, int n, float m);

DECLARE_ISA(scalar)
DECLARE_ISA(avx2)
DECLARE_ISA(avx512)
void avx512_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale);
void avx512_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows);
void avx512_pack_act(const act_rows& x, int T, int64_t K, int part, int parts, float* out);  // the one table that packs

// Attention from a table's dot / axpy, for the tables without kernels of their own: each key
// and value row is visited once per query head (kernels.h has the contract).
template <float (*Dot)(const float*, const float*, int), float (*DotF16)(const float*, const uint16_t*, int)>
void attn_scores_by_dot(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for (int j = 0; j < rows.n; j++)
        for (int r = 0; r < G; r++) {
            const void* key = rows.keys[j];
            s[r * lds + j] = scale * (rows.f16 ? DotF16(q + r * D, (const uint16_t*)key, D) : Dot(q + r * D, (const float*)key, D));
        }
}
template <void (*Axpy)(float*, float, const float*, int), void (*AxpyF16)(float*, float, const uint16_t*, int)>
void attn_values_by_axpy(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for (int j = 0; j < rows.n; j++)
        for (int r = 0; r < G; r++) {
            if (rows.f16) AxpyF16(o + r * D, w[r * ldw + j], (const uint16_t*)rows.values[j], D);
            else Axpy(o + r * D, w[r * ldw + j], (const float*)rows.values[j], D);
        }
}

// exp(r) for |r| ≤ ln 2 / 2, the vector tables' exp after 2ⁿ is split off (Cephes' expf):
// 1 + r + r²·(c0 + r·(c1 + …)), and ln 2 in two parts so that x − n·ln 2 is exact.
static const float EXP_POLY[6] = {5.0000001201e-1f, 1.6666665459e-1f, 4.1665795894e-2f,
                                  8.3334519073e-3f, 1.3981999507e-3f, 1.9875691500e-4f};
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;

// Element i of a float-dtype row (F32, F16, BF16) as f32: the scalar tails of every table.
template <int D>
inline float elem(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return ((const float*)base)[i];
    if constexpr (D == DT_F16) return f16_to_f32(((const uint16_t*)base)[i]);
    return bf16_to_f32(((const uint16_t*)base)[i]);
}

