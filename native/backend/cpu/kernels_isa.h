// The kernel functions each ISA file defines; kernels_select.cpp assembles them into tables.
#pragma once
#include "kernels.h"

#define DECLARE_ISA(P)                                                                                          \
    void P##_matmul_rows(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r0, int nr, \
                         float* scratch);                                                                       \
    void P##_quantize_act(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8);                  \
    void P##_quant_matmul_rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0,  \
                               int nr);                                                                         \
    float P##_dot(const float* a, const float* b, int n);                                                      \
    void P##_axpy(float* y, float a, const float* x, int n);                                                   \
    float P##_dot_f16(const float* a, const uint16_t* b, int n);                                               \
    void P##_axpy_f16(float* y, float a, const uint16_t* x, int n);                                            \
    void P##_widen_row(const tensor& w, int64_t row, float* dst);                                              \
    double P##_fma_probe(int64_t iters, float* sink);

DECLARE_ISA(scalar)
DECLARE_ISA(avx2)
DECLARE_ISA(avx512)

// Element i of a float-dtype row (F32, F16, BF16) as f32: the scalar tails of every table.
template <int D>
inline float elem(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return ((const float*)base)[i];
    if constexpr (D == DT_F16) return f16_to_f32(((const uint16_t*)base)[i]);
    return bf16_to_f32(((const uint16_t*)base)[i]);
}

// The horizontal sum every quantized kernel ends with, written out for 8 lanes: lanes of
// a0 + a1, then the two halves, then pairs (0,2) (1,3), then the last pair. The AVX2 and
// AVX-512 kernels do these same additions in this order.
inline float quant_finish_lanes(const float a0[8], const float a1[8]) {
    float v[8], h[4];
    for (int j = 0; j < 8; j++) v[j] = a0[j] + a1[j];
    for (int j = 0; j < 4; j++) h[j] = v[j] + v[j + 4];
    return (h[0] + h[2]) + (h[1] + h[3]);
}
