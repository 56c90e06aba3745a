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

// Quantized dtypes: per panel and block, the 16 rows' f16 scales, then groups of 4 bytes of
// each row lane by lane; padding rows get scale 0 and bytes that mean 0.
template <typename B, int GROUPS>
static void pack_blocks(const host_tensor& src, uint8_t* dst, uint8_t (*byte)(const B&, int), uint8_t pad) {
    const int64_t nb = src.cols / QK;
    const int block_bytes = PANEL_ROWS * (int)sizeof(B);
    for (int64_t p = 0; p < panel_count(src.rows); p++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t* out = dst + (p * nb + b) * block_bytes;
            uint8_t* q = out + 2 * PANEL_ROWS;
            for (int lane = 0; lane < PANEL_ROWS; lane++) {
                const int64_t r = p * PANEL_ROWS + lane;
                const B* blk = r < src.rows ? (const B*)((const char*)src.data + r * src.src_row_stride) + b : nullptr;
                uint16_t d = 0;
                if (blk) std::memcpy(&d, &blk->d, 2);
                std::memcpy(out + 2 * lane, &d, 2);
                for (int g = 0; g < GROUPS; g++)
                    for (int i = 0; i < 4; i++) q[(g * PANEL_ROWS + lane) * 4 + i] = blk ? byte(*blk, 4 * g + i) : pad;
            }
        }
}

static uint8_t q8_byte(const block_q8_0& b, int i) { return (uint8_t)(b.qs[i] + 128); }
static uint8_t q4_byte(const block_q4_0& b, int i) { return b.qs[i]; }

void panel_pack(const host_tensor& src, void* dst) {
    switch (src.dtype) {
        case DT_F32: return pack_elements(src, (uint32_t*)dst);
        case DT_F16:
        case DT_BF16: return pack_elements(src, (uint16_t*)dst);
        case DT_Q8_0: return pack_blocks<block_q8_0, QK / 4>(src, (uint8_t*)dst, q8_byte, 128);
        case DT_Q4_0: return pack_blocks<block_q4_0, QK / 8>(src, (uint8_t*)dst, q4_byte, 0x88);
    }
}

void panel_pack_bf16_tile_pairs(const host_tensor& src, void* dst) {
    const int64_t K = src.cols, Kp = tile_pairs_cols(K);
    uint16_t* out = (uint16_t*)dst;
    for (int64_t p = 0; p < panel_count(src.rows); p++)
        for (int lane = 0; lane < PANEL_ROWS; lane++) {
            const int64_t r = p * PANEL_ROWS + lane;
            const uint16_t* row = r < src.rows ? (const uint16_t*)((const char*)src.data + r * src.src_row_stride) : nullptr;
            for (int64_t k = 0; k < Kp; k++) out[p * Kp * PANEL_ROWS + (k / 2) * 32 + lane * 2 + k % 2] = row && k < K ? row[k] : 0;
        }
}
