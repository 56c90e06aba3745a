// How the CPU backend lays out a matrix weight (WEIGHT_MATRIX) so that every kernel table
// streams it in one pass and keeps 16 output rows in the 16 lanes of its accumulators: rows in
// panels of PANEL_ROWS, the last one zero-padded, each panel column-major. No kernel ever
// reduces across lanes, so each output is one chain of operations along k, the same chain
// whatever the tile, the batch or the table (batch invariance by construction).
//
//   F32/F16/BF16  element (r, k) at [(r / 16)·K + k]·16 + r % 16, in the stored dtype.
//   Q8_0          panel p, block b at byte (p·nb + b)·544: 16 f16 scales (one per row), then
//                 8 groups g of 16 rows × 4 bytes: byte (g, lane, i) = q[4g + i] + 128 of
//                 row 16p + lane (unsigned, so VNNI's u8·s8 takes the weights as they are).
//   Q4_0          (p·nb + b)·288: 16 f16 scales, then 4 groups j of 16 rows × 4 bytes: byte
//                 (j, lane, i) = stored byte 4j + i of that row's block, whose low nibble is
//                 element 4j + i and whose high nibble is element 16 + 4j + i.
//   BF16 tile pairs (the avx512_amx table, matrices of 16 rows or more): K padded to Kp, a
//                 multiple of 32, with zeros; element (r, k) at (r / 16)·Kp·16 + (k / 2)·32 +
//                 (r % 16)·2 + k % 2 — each 32 columns of a panel one 1 KB AMX tile.
// Every layout takes the bytes of the row-major one, padding aside.
#pragma once
#include <cstdint>

#include "backend.h"

constexpr int PANEL_ROWS = 16;
constexpr int Q8_PANEL_BLOCK = PANEL_ROWS * 34;  // bytes of one block of a panel's 16 rows
constexpr int Q4_PANEL_BLOCK = PANEL_ROWS * 18;

inline int64_t panel_count(int64_t rows) { return (rows + PANEL_ROWS - 1) / PANEL_ROWS; }
inline uint64_t panel_bytes(dtype_t dt, int64_t rows, int64_t cols) {
    return (uint64_t)panel_count(rows) * PANEL_ROWS * row_bytes(dt, cols);
}
// The panels one kernel call covers: first + i·stride for i < n. The backend deals a matrix
// out as sets of 4 panels a quarter of the matrix apart (stride = ceil(panels / 4)), so a
// decode tile, which reads 4 panels at once, streams 4 distant runs of memory that each go on
// in the next set. On Zen 5 a plain read of 4 long streams beats one, and so does decode:
// batch-1 steps 5–12% shorter than with 4 adjacent panels (one run), Q4_0 and F16, 1 and 2
// threads, in interleaved A/B runs. Which panels share a tile never changes a result.
struct panel_set {
    int64_t first;
    int n;
    int64_t stride;
    int64_t at(int i) const { return first + i * stride; }
};

// The panels of the work item a thread most likely computes after ps, for kernels that fetch
// them while they compute: each one on from ps's (panel_groups.h). A guess: a
// wrong one costs fetches, never a result; the last item's run past the matrix's panels.
inline panel_set next_work_item(const panel_set& ps) { return {ps.first + 1, ps.n, ps.stride}; }

// The panel pair a thread most likely computes after pair i (panels i and i + 1) of ps: the
// set's next pair, or after its last, the next work item's first. false when it runs past the
// matrix's panels.
inline bool next_panel_pair(const panel_set& ps, int i, int64_t panels, int64_t at[2]) {
    const bool last = i + 4 > ps.n;
    const panel_set next = next_work_item(ps);
    at[0] = last ? next.at(0) : ps.at(i + 2);
    at[1] = last ? next.at(ps.n > 1 ? 1 : 0) : ps.at(i + 3);
    return at[0] < panels && at[1] < panels;
}

// Rows of panel p that exist (the last panel may hold fewer than 16).
inline int panel_rows(int64_t rows, int64_t p) {
    const int64_t left = rows - p * PANEL_ROWS;
    return (int)(left < PANEL_ROWS ? left : PANEL_ROWS);
}

// src (row-major, rows src_row_stride apart) → dst, panel_bytes(...) bytes.
void panel_pack(const host_tensor& src, void* dst);
constexpr int64_t TILE_PAIRS_K = 32;  // the columns of one AMX tile of BF16 weights
inline int64_t tile_pairs_cols(int64_t cols) { return (cols + TILE_PAIRS_K - 1) / TILE_PAIRS_K * TILE_PAIRS_K; }
// Which matrices a table with BF16 tile pairs (cpu_kernels.bf16_tile_pairs) lays out so: BF16
// ones of a panel or more. A smaller one (a MoE router: 8 rows for Mixtral) keeps the usual
// layout and the exact f32 chain, so that the top-k choice, a step function, is every table's.
inline bool bf16_tile_pairs_fit(dtype_t dt, int64_t rows) { return dt == DT_BF16 && rows >= PANEL_ROWS; }
inline uint64_t bf16_tile_pairs_bytes(int64_t rows, int64_t cols) {
    return (uint64_t)panel_count(rows) * PANEL_ROWS * tile_pairs_cols(cols) * 2;
}
// The activations against them (cpu_kernels.pack_act_bf16), a token tile at a time: 16 tokens,
// each 32 columns (padded to tile_pairs_cols) of them two AMX tiles of 16 rows × 64 bytes one
// after the other, the rows rounded to bf16 (hi) then what that rounding left (x − hi, rounded
// too: lo). A token tile is 16 · bf16_act_stride(cols) bf16; each tile a kernel loads, 1 KB in
// one piece.
constexpr int64_t BF16_ACT_TILES = 2 * PANEL_ROWS * TILE_PAIRS_K;  // the hi and lo tiles of 32 columns, in bf16
inline int64_t bf16_act_stride(int64_t cols) { return 2 * tile_pairs_cols(cols); }
// src (BF16) → the BF16 tile-pairs layout, bf16_tile_pairs_bytes(rows, cols) bytes.
void panel_pack_bf16_tile_pairs(const host_tensor& src, void* dst);
