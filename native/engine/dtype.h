// Weight dtypes and the tensor view every layer passes around. Weights stay in their stored
// dtype: f32, f16, bf16 are widened to f32 on the fly; Q8_0 / Q4_0 (llama.cpp's block
// layouts) run integer dot kernels. Shared by the model loader (byte arithmetic of slices)
// and every backend.
#pragma once
#include <cstdint>

enum dtype_t : int { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_Q8_0 = 3, DT_Q4_0 = 4 };

// Block-quantized weights: each run of QK = 32 consecutive weights of a row shares one f16
// scale d. Rows are cols/32 blocks back to back, so cols % 32 == 0; blocks are packed (only
// 2-byte aligned).
//   Q8_0: value = d · q,       q an int8 (the quantizer writes [−127, 127])    34 bytes / 32
//   Q4_0: value = d · (n − 8), n a 4-bit nibble in [0, 15]                      18 bytes / 32
//         byte j holds element j in its low nibble and element j + 16 in its high one.
constexpr int QK = 32;

struct block_q8_0 {
    uint16_t d;     // f16 scale
    int8_t qs[QK];  // (32) value i = d · qs[i]
};

struct block_q4_0 {
    uint16_t d;          // f16 scale
    uint8_t qs[QK / 2];  // (16) element j: low nibble of qs[j]; element j + 16: high nibble
};

static_assert(sizeof(block_q8_0) == 34, "Q8_0 block is 34 bytes on disk");
static_assert(sizeof(block_q4_0) == 18, "Q4_0 block is 18 bytes on disk");

inline bool dtype_is_quant(dtype_t dt) { return dt == DT_Q8_0 || dt == DT_Q4_0; }
const char* dtype_name(dtype_t dt);  // "F32", "Q8_0", …

// Bytes of `cols` consecutive elements of one row: cols · element size, or cols/32 blocks.
//   F16, 4096 → 8192;  Q4_0, 4096 → 128 blocks · 18 = 2304
uint64_t row_bytes(dtype_t dt, int64_t cols);
inline uint64_t tensor_bytes(dtype_t dt, int64_t rows, int64_t cols) { return (uint64_t)rows * row_bytes(dt, cols); }

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);   // round to nearest even
float bf16_to_f32(uint16_t b);  // bf16 is the high half of an f32

// How the K/V cache stores a row of head_dim D: f32, f16, or q8_0 — D int8 q, then the D/32
// f32 scales d of its blocks of 32, an element being (float)q · d, quantized as the integer
// kernels quantize activations (d = max|x| / 127, q = round-half-even(x / d)): 1.125 bytes an
// element where f16 takes 2. q8_0 needs D a multiple of 32.
enum kv_dtype_t : int { KV_F32 = 0, KV_F16 = 1, KV_Q8_0 = 2 };
inline int64_t kv_row_bytes(kv_dtype_t t, int D) { return t == KV_Q8_0 ? D + D / QK * 4 : (int64_t)D * (t == KV_F16 ? 2 : 4); }
// A q8_0 row's scales, after its D values.
inline const float* kv_q8_scales(const void* row, int D) { return (const float*)((const int8_t*)row + D); }

// A 2-D weight (rows, cols), row-major, as stored, in a backend's memory: y = x @ W.T reads
// W one row per output. 1-D weights (norms) have rows = 1. data == nullptr: not held here
// (an expert another shard owns).
struct tensor {
    const void* data = nullptr;
    dtype_t dtype = DT_F32;
    int64_t rows = 0, cols = 0;
};

// Widens row `row` of a host-memory tensor into dst (w.cols floats). Portable; for loading
// and reference paths, not for hot loops.
void tensor_row_to_f32(const tensor& w, int64_t row, float* dst);
