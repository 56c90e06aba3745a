// Row-major weights → the panel layout (panel_layout.h), once, when a matrix is loaded.
#include <cstring>

#include "panel_layout.h"

// Float dtypes: a transpose of each 16-row panel, k-chunk by k-chunk so both sides stay in cache.
template <typename E>
static void pack_elements(const host_tensor& src, E* dst) {
    const int64_t K = src.cols;
    const int64_t CHUNK = 256;
    for (int64_t p = 0; p < panel_count(src.rows); p++) {
        E* panel = dst + p * K * PANEL_ROWS;
        for (int64_t k0 = 0; k0 < K; k0 += CHUNK) {
            const int64_t k1 = k0 + CHUNK < K ? k0 + CHUNK : K;
            for (int lane = 0; lane < PANEL_ROWS; lane++) {
                const int64_t r = p * PANEL_ROWS + lane;
                if (r >= src.rows) {
                    for (int64_t k = k0; k < k1; k++) panel[k * PANEL_ROWS + lane] = 0;
                    continue;
                }
                const E* row = (const E*)((const char*)src.data + r * src.src_row_stride);
                for (int64_t k = k0; k < k1; k++) panel[k * PANEL_ROWS + lane] = row[k];
            }
        }
    }
}

template <typename B>
static const B* block_of(const host_tensor& src, int64_t r, int64_t b) {
    return (const B*)((const char*)src.data + r * src.src_row_stride) + b;
}

static void pack_q8(const host_tensor& src, uint8_t* dst) {
    const int64_t nb = src.cols / QK;
    for (int64_t p = 0; p < panel_count(src.rows); p++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t* out = dst + (p * nb + b) * Q8_PANEL_BLOCK;
            uint16_t* scales = (uint16_t*)out;  // 64-byte aligned arena + multiples of 32: aligned
            uint8_t* q = out + 2 * PANEL_ROWS;
            for (int lane = 0; lane < PANEL_ROWS; lane++) {
                const int64_t r = p * PANEL_ROWS + lane;
                const block_q8_0* blk = r < src.rows ? block_of<block_q8_0>(src, r, b) : nullptr;
                uint16_t d = 0;
                if (blk) std::memcpy(&d, &blk->d, 2);
                scales[lane] = d;
                for (int g = 0; g < QK / 4; g++)
                    for (int i = 0; i < 4; i++)
                        q[(g * PANEL_ROWS + lane) * 4 + i] = (uint8_t)((blk ? blk->qs[4 * g + i] : 0) + 128);
            }
        }
}

static void pack_q4(const host_tensor& src, uint8_t* dst) {
    const int64_t nb = src.cols / QK;
    for (int64_t p = 0; p < panel_count(src.rows); p++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t* out = dst + (p * nb + b) * Q4_PANEL_BLOCK;
            uint16_t* scales = (uint16_t*)out;
            uint8_t* q = out + 2 * PANEL_ROWS;
            for (int lane = 0; lane < PANEL_ROWS; lane++) {
                const int64_t r = p * PANEL_ROWS + lane;
                const block_q4_0* blk = r < src.rows ? block_of<block_q4_0>(src, r, b) : nullptr;
                uint16_t d = 0;
                if (blk) std::memcpy(&d, &blk->d, 2);
                scales[lane] = d;
                for (int j = 0; j < QK / 8; j++)
                    for (int i = 0; i < 4; i++) q[(j * PANEL_ROWS + lane) * 4 + i] = blk ? blk->qs[4 * j + i] : 0x88;
            }
        }
}

void panel_pack(const host_tensor& src, void* dst) {
    switch (src.dtype) {
        case DT_F32: return pack_elements(src, (uint32_t*)dst);
        case DT_F16:
        case DT_BF16: return pack_elements(src, (uint16_t*)dst);
        case DT_Q8_0: return pack_q8(src, (uint8_t*)dst);
        case DT_Q4_0: return pack_q4(src, (uint8_t*)dst);
    }
}
