// Walks the model's layers and places each shard's slice of each tensor into its backend.
#include <vector>

#include "model.h"

namespace {

struct loader {
    const engine_model_spec& spec;
    const engine_weights& src;
    const shard_slice& slice;
    bool may_alias;
    backend* be;
    std::string* err;

    // The stored tensor `ref`, checked against the shape the config implies.
    bool resolve(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, host_tensor* t) {
        if (!weights_resolve(&src, ref, name, t, err)) return false;
        if (t->rows != rows || t->cols != cols)
            return *err = name + ": shape (" + std::to_string(t->rows) + ", " + std::to_string(t->cols) +
                          ") but the config implies (" + std::to_string(rows) + ", " + std::to_string(cols) + ")",
                   false;
        return true;
    }

    // Rows [r.begin, r.end) and columns [c.begin, c.end) of a stored tensor into the backend.
    bool place(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, shard_range r,
               shard_range c, tensor* out) {
        host_tensor t;
        if (!resolve(ref, name, rows, cols, &t)) return false;
        const bool whole = r.begin == 0 && r.end == rows && c.begin == 0 && c.end == cols;
        host_tensor part = t;
        part.data = (const char*)t.data + r.begin * t.src_row_stride + row_bytes(t.dtype, c.begin);
        part.rows = r.size();
        part.cols = c.size();
        return be->load_weight(part, may_alias && whole, out, err);
    }
    bool whole(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, tensor* out) {
        return place(ref, name, rows, cols, {0, rows}, {0, cols}, out);
    }
    bool rows_of(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, shard_range r, tensor* out) {
        return place(ref, name, rows, cols, r, {0, cols}, out);
    }
    bool cols_of(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, shard_range c, tensor* out) {
        return place(ref, name, rows, cols, {0, rows}, c, out);
    }

    // A norm vector, widened to f32 (the rmsnorm op reads f32).
    bool norm(const engine_tensor_ref& ref, const std::string& name, tensor* out) {
        const int64_t n = spec.config.hidden_size;
        host_tensor t;
        if (!resolve(ref, name, 1, n, &t)) return false;
        if (t.dtype == DT_F32) return be->load_weight(t, may_alias, out, err);
        std::vector<float> wide(n);
        tensor_row_to_f32(tensor{t.data, t.dtype, 1, n}, 0, wide.data());
        return be->load_weight(host_tensor{wide.data(), DT_F32, 1, n, (uint64_t)n * 4}, false, out, err);
    }
};

}  // namespace

bool model_load(const engine_model_spec& spec, const engine_weights& src, const shard_slice& slice, bool may_alias,
                backend* be, shard_weights* out, std::string* err) {
    const engine_model_config& c = spec.config;
    loader ld{spec, src, slice, may_alias, be, err};
    const int64_t H = c.hidden_size, D = c.head_dim, I = c.intermediate_size;
    const shard_range q_rows{slice.q_heads.begin * D, slice.q_heads.end * D};
    const shard_range kv_rows{slice.kv_heads.begin * D, slice.kv_heads.end * D};

    if (!ld.rows_of(spec.embed, "embed", c.vocab_size, H, slice.vocab, &out->embed)) return false;
    const bool tied = spec.lm_head.file == spec.embed.file && spec.lm_head.offset == spec.embed.offset;
    if (tied) out->lm_head = out->embed;
    else if (!ld.rows_of(spec.lm_head, "lm_head", c.vocab_size, H, slice.vocab, &out->lm_head)) return false;
    if (!ld.norm(spec.final_norm, "final_norm", &out->final_norm)) return false;

    out->layers.resize(c.n_layers);
    for (int l = 0; l < c.n_layers; l++) {
        const engine_layer_refs& r = spec.layers[l];
        layer_weights& lw = out->layers[l];
        const std::string at = "layer " + std::to_string(l) + " ";
        if (!ld.norm(r.attn_norm, at + "attn_norm", &lw.attn_norm) || !ld.norm(r.ffn_norm, at + "ffn_norm", &lw.ffn_norm) ||
            !ld.rows_of(r.wq, at + "wq", c.n_heads * D, H, q_rows, &lw.wq) ||
            !ld.rows_of(r.wk, at + "wk", c.n_kv_heads * D, H, kv_rows, &lw.wk) ||
            !ld.rows_of(r.wv, at + "wv", c.n_kv_heads * D, H, kv_rows, &lw.wv) ||
            !ld.cols_of(r.wo, at + "wo", H, c.n_heads * D, q_rows, &lw.wo))
            return false;
        if (c.n_experts == 0) {
            if (!ld.rows_of(r.w1, at + "w1", I, H, slice.ffn_cols, &lw.w1) ||
                !ld.rows_of(r.w3, at + "w3", I, H, slice.ffn_cols, &lw.w3) ||
                !ld.cols_of(r.w2, at + "w2", H, I, slice.ffn_cols, &lw.w2))
                return false;
            continue;
        }
        if (!ld.whole(r.router, at + "router", c.n_experts, H, &lw.router)) return false;
        lw.expert_w1.resize(c.n_experts);
        lw.expert_w2.resize(c.n_experts);
        lw.expert_w3.resize(c.n_experts);
        for (int e = slice.experts.begin; e < slice.experts.end; e++) {
            const engine_tensor_ref* x = r.experts + 3 * e;
            const std::string ex = at + "expert " + std::to_string(e) + " ";
            if (!ld.rows_of(x[0], ex + "w1", I, H, slice.ffn_cols, &lw.expert_w1[e]) ||
                !ld.cols_of(x[1], ex + "w2", H, I, slice.ffn_cols, &lw.expert_w2[e]) ||
                !ld.rows_of(x[2], ex + "w3", I, H, slice.ffn_cols, &lw.expert_w3[e]))
                return false;
        }
    }
    return true;
}
