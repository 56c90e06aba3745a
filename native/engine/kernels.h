// Numeric kernels: dtype widening, matrix multiply against stored weights, small vector ops.
// Weights stay in their stored dtype (f32, f16, bf16) and are widened to f32 on the fly, so a
// memory-mapped checkpoint is used in place; block-quantized weights (Q8_0, Q4_0) run integer
// dot kernels instead (quant.h). AVX2/FMA/F16C paths are picked at run time; every kernel has
// a portable scalar path with the same results up to float rounding (quantized: identical).
#pragma once
#include <cstdint>

#include "thread_pool.h"

enum dtype_t : int { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_Q8_0 = 3, DT_Q4_0 = 4 };

// Q8_0 / Q4_0: blocks of 32 weights along a row, so cols % 32 == 0 (quant.h).
inline bool dtype_is_quant(dtype_t dt) { return dt == DT_Q8_0 || dt == DT_Q4_0; }

// A 2-D weight (rows, cols), row-major, as stored: y = x @ W.T reads W one row per output.
struct tensor {
    const void* data = nullptr;
    dtype_t dtype = DT_F32;
    int64_t rows = 0, cols = 0;
};

int dtype_size(dtype_t dt);  // bytes per element of a float dtype
// Bytes of a (rows, cols) tensor: rows·cols·element size, or rows · cols/32 blocks for the
// quantized dtypes (cols % 32 == 0 is the caller's to check).   Q4_0 (4096, 4096) → 9437184
uint64_t tensor_bytes(dtype_t dt, int64_t rows, int64_t cols);
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
