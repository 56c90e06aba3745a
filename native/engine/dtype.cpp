#include "dtype.h"

#include <cmath>
#include <cstring>

const char* dtype_name(dtype_t dt) {
    switch (dt) {
        case DT_F32: return "F32";
        case DT_F16: return "F16";
        case DT_BF16: return "BF16";
        case DT_Q8_0: return "Q8_0";
        case DT_Q4_0: return "Q4_0";
    }
    return "?";
}

uint64_t row_bytes(dtype_t dt, int64_t cols) {
    switch (dt) {
        case DT_F32: return (uint64_t)cols * 4;
        case DT_F16:
        case DT_BF16: return (uint64_t)cols * 2;
        case DT_Q8_0: return (uint64_t)(cols / QK) * sizeof(block_q8_0);
        case DT_Q4_0: return (uint64_t)(cols / QK) * sizeof(block_q4_0);
    }
    return 0;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 → 127
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal half: value = mant · 2^-24, normal as a float
        float v = (float)mant * 5.9604644775390625e-8f;
        std::memcpy(&bits, &v, 4);
        bits |= sign;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    const uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));  // inf / nan
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // rounds past the largest half: inf
    if (abs < 0x38800000u) {  // below the smallest normal half: a subnormal, in units of 2^-24
        float a;
        std::memcpy(&a, &abs, 4);
        return (uint16_t)(sign | (uint32_t)std::nearbyint(a * 16777216.0f));  // ties to even
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
    const uint32_t rounded = abs + 0xfff + ((abs >> 13) & 1);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

float bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void tensor_row_to_f32(const tensor& w, int64_t row, float* dst) {
    const char* base = (const char*)w.data + (uint64_t)row * row_bytes(w.dtype, w.cols);
    switch (w.dtype) {
        case DT_F32: std::memcpy(dst, base, sizeof(float) * w.cols); return;
        case DT_F16:
            for (int64_t k = 0; k < w.cols; k++) dst[k] = f16_to_f32(((const uint16_t*)base)[k]);
            return;
        case DT_BF16:
            for (int64_t k = 0; k < w.cols; k++) dst[k] = bf16_to_f32(((const uint16_t*)base)[k]);
            return;
        case DT_Q8_0:
            for (int64_t b = 0; b < w.cols / QK; b++) {
                const block_q8_0& blk = ((const block_q8_0*)base)[b];
                const float d = f16_to_f32(blk.d);
                for (int i = 0; i < QK; i++) dst[b * QK + i] = d * (float)blk.qs[i];
            }
            return;
        case DT_Q4_0:
            for (int64_t b = 0; b < w.cols / QK; b++) {
                const block_q4_0& blk = ((const block_q4_0*)base)[b];
                const float d = f16_to_f32(blk.d);
                for (int j = 0; j < QK / 2; j++) {
                    dst[b * QK + j] = d * (float)((blk.qs[j] & 0x0F) - 8);
                    dst[b * QK + j + QK / 2] = d * (float)((blk.qs[j] >> 4) - 8);
                }
            }
            return;
    }
}
