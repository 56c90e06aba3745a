// Matrix multiply on the pool: y = x @ W.T with W packed in panels of 16 rows
// (panel_layout.h). Work items are groups of 4 panels a quarter of the matrix apart
// (panel_groups.h) — of every matrix of a matmuls() call, in one parallel region — and tokens
// go through in blocks.
// Each output is one chain of operations whatever the batch (kernels.h), so a token's outputs
// never depend on the others.
#include <algorithm>

#include "cpu_backend.h"

qact_rows cpu_backend::quantize_rows(const act_rows& x, int T, int64_t n, int buf) {
    const int64_t nb = n / QK;
    if (qa_[buf].size() < (size_t)(T * nb)) qa_[buf].resize((size_t)(T * nb));
    block_q8_act* xq = qa_[buf].data();
    const cpu_kernels* k = k_;
    thread_pool_for(pool_, T, thread_pool_grain(pool_, T, 4), [&](int begin, int end, int) {
        for (int t = begin; t < end; t++) k->quantize_act(x.row(t), n, xq + t * nb);
    });
    return qact_rows{xq, nb, nullptr};
}

act_rows cpu_backend::pack_rows(const act_rows& x, int T, int64_t K, float* out, uint16_t* out_bf16) {
    if (!packs(T)) out = nullptr;
    if (!out && !out_bf16) return x;
    const cpu_kernels* k = k_;
    auto pack = [&](int part, int parts) {
        if (out) k->pack_act(x, T, K, part, parts, out);
        if (out_bf16) k->pack_act_bf16(x, T, K, part, parts, out_bf16);
    };
    if (!packs(T)) pack(0, 1);  // a few bf16 rows (decode): not worth a parallel region
    else {
        const int parts = thread_pool_size(pool_);
        thread_pool_for(pool_, parts, 1, [&](int begin, int end, int) {
            for (int part = begin; part < end; part++) pack(part, parts);
        });
    }
    act_rows packed = x;
    packed.packed = out;
    packed.packed_bf16 = out_bf16;
    return packed;
}

float* cpu_backend::packed_floats(bool want, int rows, int64_t K) {
    if (!want) return nullptr;
    if (packed_.size() < (size_t)(rows * K)) packed_.resize((size_t)(rows * K));
    return packed_.data();
}

uint16_t* cpu_backend::packed_bf16(bool want, int rows, int64_t K) {
    if (!want) return nullptr;
    const size_t n = (size_t)(rows + 15) / 16 * 16 * bf16_act_stride(K);
    if (packed_bf16_.size() < n) packed_bf16_.resize(n);
    return packed_bf16_.data();
}

void cpu_backend::matmul_panels(float* y, int64_t ldy, const act_rows& x, const qact_rows& xq, int T, const tensor& w,
                                const panel_set& ps) const {
    if (dtype_is_quant(w.dtype)) k_->quant_matmul_panels(y, ldy, xq, T, w, ps);
    else k_->matmul_panels(y, ldy, x, T, w, ps);
}

void cpu_backend::for_items(int n, int T, const thread_pool_fn& fn) {
    if (T <= STREAM_TOKENS) thread_pool_for_shares(pool_, n, fn);
    else thread_pool_for(pool_, n, 1, fn);
}

void cpu_backend::matmul_rows(const act_rows& x, int n_tokens, const matmul_out* outs, int n) {
    const int64_t K = outs[0].w->cols;
    panel_groups& items = panel_items_;
    items.clear();
    bool quant = false, floats = false, tiles = false;
    for (int i = 0; i < n; i++) {
        const tensor& w = *outs[i].w;
        items.add(i, w.rows);
        (dtype_is_quant(w.dtype) ? quant : tile_pairs_for(w.dtype, w.rows) ? tiles : floats) = true;
    }
    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int T = std::min(TOKEN_BLOCK, n_tokens - t0);
        act_rows block = x.from(t0);
        const qact_rows q = quant ? quantize_rows(block, T, K, 0) : qact_rows{};
        block = pack_rows(block, T, K, packed_floats(floats, T, K), packed_bf16(tiles, T, K));
        for_panel_groups(T, [&](int matrix, const panel_set& ps) {
            const matmul_out& o = outs[matrix];
            matmul_panels(o.y + (int64_t)t0 * o.ldy, o.ldy, block, q, T, *o.w, ps);
        });
    }
}

void cpu_backend::matmul(float* y, int64_t ldy, const float* x, int T, const tensor& w) {
    const matmul_out out{y, ldy, &w};
    matmul_rows(act_rows{x, w.cols, nullptr}, T, &out, 1);
}

void cpu_backend::matmuls(const float* x, int T, const matmul_out* outs, int n) {
    matmul_rows(act_rows{x, outs[0].w->cols, nullptr}, T, outs, n);
}

// Host memory is this backend's memory: the logits are written in place.
void cpu_backend::logits(float* host_logits, int64_t ld, int64_t col0, const float* x, int rows, const tensor& w) {
    matmul(host_logits + col0, ld, x, rows, w);
}
