// Block-quantized weights in llama.cpp's Q8_0 and Q4_0 layouts, and the integer dot kernels
// that run them. Each run of QK = 32 consecutive weights of a row shares one f16 scale d:
//   Q8_0: value = d · q,       q an int8 (the quantizer writes [−127, 127])    34 bytes / 32
//   Q4_0: value = d · (n − 8), n a 4-bit nibble in [0, 15]                      18 bytes / 32
//         byte j holds element j in its low nibble and element j + 16 in its high one.
// A row of `cols` weights is cols/32 blocks back to back, rows back to back; blocks are packed,
// so a block is only 2-byte aligned and every load is unaligned.
//
// Dot products (as llama.cpp): once per matmul, each activation row x is quantized to int8
// blocks of 32 with an f32 scale (block_q8_act); then row · x = Σ_blocks d_w · d_x · Σ q_w q_x
// with the inner sum exact in int32. The scalar and AVX2 kernels do the same float operations
// in the same order (8 lane sums per block, two alternating accumulators, one fixed horizontal
// sum, mul then add, no FMA), so they agree bit for bit, and a token's result never depends on
// the other tokens of the step (batch invariance).
#pragma once
#include <cstdint>

#include "kernels.h"

constexpr int QK = 32;  // weights per block

struct block_q8_0 {
    uint16_t d;      // f16 scale
    int8_t qs[QK];   // (32) value i = d · qs[i]
};

struct block_q4_0 {
    uint16_t d;          // f16 scale
    uint8_t qs[QK / 2];  // (16) element j: low nibble of qs[j]; element j + 16: high nibble
};

static_assert(sizeof(block_q8_0) == 34, "Q8_0 block is 34 bytes on disk");
static_assert(sizeof(block_q4_0) == 18, "Q4_0 block is 18 bytes on disk");

// An activation block: like Q8_0 but with an f32 scale (an internal format, never stored, so
// it need not round the scale to f16). q in [−127, 127]; −128 never occurs, which the AVX2
// sign trick relies on.
struct block_q8_act {
    float d;
    int8_t qs[QK];
};

// Bytes of one block of a quantized dtype (0 for float dtypes).
int quant_block_bytes(dtype_t dt);

// x (n) → n/32 activation blocks; n % 32 == 0. d = max|x| / 127, q = round-half-even(x / d).
// lane_sum8 (n/32, 8): lane j of block b = 8 · (q[4j] + … + q[4j+3]), which lets the Q4_0
// decode kernel multiply nibbles unsigned (quant.cpp); apart from the blocks, so that kernels
// which do not need it do not stream it.
void quant_act_row_scalar(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8);
void quant_act_row_avx2(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8);

// Widens row `row` of a Q8_0 / Q4_0 tensor into dst (w.cols floats): dst[i] = d · q.
void quant_row_f32(const tensor& w, int64_t row, float* dst);

// y[t·ldy + r] = row r of w · token t of x, for rows [r0, r0 + nr) and tokens [0, T).
// xq (T, w.cols/32) activation blocks and xsum (T, w.cols/32, 8) their lane sums.
void quant_rows_scalar(float* y, int64_t ldy, const block_q8_act* xq, const int32_t* xsum, int T, const tensor& w,
                       int64_t r0, int nr);
void quant_rows_avx2(float* y, int64_t ldy, const block_q8_act* xq, const int32_t* xsum, int T, const tensor& w,
                     int64_t r0, int nr);
