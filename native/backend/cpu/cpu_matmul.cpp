// Matrix multiply on the pool: y = x @ W.T with W in its stored dtype. Work items are tiles of
// ROW_TILE weight rows; tokens go through in blocks whose activations stay in L2 while rows
// stream by. A token's outputs never depend on the other tokens (batch invariance): each
// (row, token) dot product runs the same kernel code in the same order whatever the batch.
#include <algorithm>

#include "cpu_backend.h"

static const int ROW_TILE = 4;      // output rows per work item
static const int TOKEN_BLOCK = 48;  // tokens per pass over the weights

qact_rows cpu_backend::quantize_rows(const act_rows& x, int T, int64_t n, int buf) {
    const int64_t nb = n / QK;
    if (qa_[buf].size() < (size_t)(T * nb)) {
        qa_[buf].resize((size_t)(T * nb));
        qsum_[buf].resize((size_t)(T * nb * 8));
    }
    block_q8_act* xq = qa_[buf].data();
    int32_t* xs = qsum_[buf].data();
    const cpu_kernels* k = k_;
    thread_pool_for(pool_, T, std::max(1, T / (thread_pool_size(pool_) * 4)), [&](int begin, int end, int) {
        for (int t = begin; t < end; t++) k->quantize_act(x.row(t), n, xq + t * nb, xs + t * nb * 8);
    });
    return qact_rows{xq, xs, nb, nullptr};
}

void cpu_backend::matmul_rows(float* y, int64_t ldy, const act_rows& x, int n_tokens, const tensor& w) {
    const int64_t rows = w.rows, K = w.cols;
    const int n_tiles = (int)((rows + ROW_TILE - 1) / ROW_TILE);
    // Several chunks per thread so a slow core does not hold the others up.
    const int grain = std::max(1, n_tiles / (thread_pool_size(pool_) * 8));
    const bool quant = dtype_is_quant(w.dtype);
    if (!quant)
        for (auto& s : row_scratch_)
            if (s.size() < (size_t)K) s.resize(K);
    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int T = std::min(TOKEN_BLOCK, n_tokens - t0);
        const act_rows block = x.from(t0);
        float* yb = y + (int64_t)t0 * ldy;
        const qact_rows q = quant ? quantize_rows(block, T, K, 0) : qact_rows{};
        thread_pool_for(pool_, n_tiles, grain, [&](int begin, int end, int thread) {
            for (int tile = begin; tile < end; tile++) {
                const int64_t r0 = (int64_t)tile * ROW_TILE;
                const int nr = (int)std::min<int64_t>(ROW_TILE, rows - r0);
                if (quant) k_->quant_matmul_rows(yb, ldy, q, T, w, r0, nr);
                else k_->matmul_rows(yb, ldy, block, T, w, r0, nr, row_scratch_[thread].data());
            }
        });
    }
}

void cpu_backend::matmul(float* y, int64_t ldy, const float* x, int T, const tensor& w) {
    matmul_rows(y, ldy, act_rows{x, w.cols, nullptr}, T, w);
}

// Host memory is this backend's memory: the logits are written in place.
void cpu_backend::logits(float* host_logits, int64_t ld, int64_t col0, const float* x, int rows, const tensor& w) {
    matmul_rows(host_logits + col0, ld, act_rows{x, w.cols, nullptr}, rows, w);
}
