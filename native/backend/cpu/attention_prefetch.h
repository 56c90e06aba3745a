// What the x86 attention kernels fetch ahead while they score keys [j0, j1): the keys
// PREFETCH_ROWS further on, and the values of these keys (the next call reads them). Cache
// slots come in runs of KV_BLOCK_SLOTS rows, too short for the hardware prefetcher to find the
// stream. `prefetcht0` is SSE: callable from every x86 table.
#pragma once
#include <immintrin.h>

#include "kernels.h"

static const int PREFETCH_ROWS = 16;

inline void prefetch_row(const void* row, int bytes) {
    for (int b = 0; b < bytes; b += 64) _mm_prefetch((const char*)row + b, _MM_HINT_T0);
}

inline void prefetch_for_keys(const attn_rows& rows, int j0, int j1, int row_bytes) {
    for (int c = j0; c < j1; c++) {
        if (c + PREFETCH_ROWS < rows.n) prefetch_row(rows.keys[c + PREFETCH_ROWS], row_bytes);
        prefetch_row(rows.values[c], row_bytes);
    }
}
