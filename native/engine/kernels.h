// Numeric kernels: dtype widening, matrix multiply against stored weights, small vector ops.
// Weights stay in their stored dtype (f32, f16, bf16) and are widened to f32 on the fly, so a
// memory-mapped checkpoint is used in place. AVX2/FMA/F16C paths are picked at run time;
// every kernel has a portable scalar path with the same results up to float rounding.
#pragma once
#include <cstdint>

#include "thread_pool.h"

enum dtype_t : int { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2 };

// A 2-D weight (rows, cols), row-major, as stored: y = x @ W.T reads W one row per output.
struct tensor {
    const void* data = nullptr;
    dtype_t dtype = DT_F32;
    int64_t rows = 0, cols = 0;
};

int dtype_size(dtype_t dt);
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);  // bf16 is the high half of an f32

// Widens row `row` of w into dst (w.cols floats).
void tensor_row_f32(const tensor& w, int64_t row, float* dst);

// y (n_tokens, w.rows) = x (n_tokens, w.cols) @ w.T, on the pool.
void matmul(thread_pool* pool, float* y, const float* x, const tensor& w, int n_tokens);

// y = x / sqrt(mean(x²) + eps) * w
void rmsnorm(float* y, const float* x, const float* w, int n, float eps);

float dot_f32(const float* a, const float* b, int n);
void axpy_f32(float* y, float a, const float* x, int n);  // y += a·x

// "avx2" or "scalar": which kernel family this CPU runs.
const char* kernels_isa();
