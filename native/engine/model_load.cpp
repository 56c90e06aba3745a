// Walks the model's layers into each shard's placements, and places slices into its backend.
#include <vector>

#include "model.h"

namespace {

struct planner {
    const engine_model_spec& spec;
    std::vector<placement>* plan;
    std::string* err;

    // Stored tensor `ref` must have the shape the config implies; the shard takes rows r × cols c.
    bool add(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, shard_range r,
             shard_range c, weight_use use, tensor* dest) {
        if (ref.rows != rows || ref.cols != cols)
            return *err = name + ": shape (" + std::to_string(ref.rows) + ", " + std::to_string(ref.cols) +
                          ") but the config implies (" + std::to_string(rows) + ", " + std::to_string(cols) + ")",
                   false;
        if (ref.dtype < ENGINE_DT_F32 || ref.dtype > ENGINE_DT_Q4_0) return *err = name + ": unknown dtype", false;
        if (dtype_is_quant((dtype_t)ref.dtype) && (cols % QK != 0 || c.begin % QK != 0 || c.end % QK != 0))
            return *err = name + ": quantized rows must hold whole blocks of " + std::to_string(QK), false;
        plan->push_back({name, ref, r, c, use, dest});
        return true;
    }
    bool whole(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, tensor* dest) {
        return add(ref, name, rows, cols, {0, rows}, {0, cols}, WEIGHT_MATRIX, dest);
    }
    bool rows_of(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, shard_range r, tensor* dest) {
        return add(ref, name, rows, cols, r, {0, cols}, WEIGHT_MATRIX, dest);
    }
    bool cols_of(const engine_tensor_ref& ref, const std::string& name, int64_t rows, int64_t cols, shard_range c, tensor* dest) {
        return add(ref, name, rows, cols, {0, rows}, c, WEIGHT_MATRIX, dest);
    }
    bool norm(const engine_tensor_ref& ref, const std::string& name, tensor* dest) {
        const int64_t n = spec.config.hidden_size;
        return add(ref, name, 1, n, {0, 1}, {0, n}, WEIGHT_VECTOR, dest);
    }
};

}  // namespace

bool model_plan(const engine_model_spec& spec, const shard_slice& slice, shard_weights* out, std::vector<placement>* plan,
                std::string* err) {
    const engine_model_config& c = spec.config;
    planner p{spec, plan, err};
    const int64_t H = c.hidden_size, D = c.head_dim, I = c.intermediate_size;
    const shard_range q_rows{slice.q_heads.begin * D, slice.q_heads.end * D};
    const shard_range kv_rows{slice.kv_heads.begin * D, slice.kv_heads.end * D};

    out->layers.resize(c.n_layers);
    for (int l = 0; l < c.n_layers; l++) {
        layer_weights& lw = out->layers[l];
        lw.expert_w1.resize(c.n_experts);
        lw.expert_w2.resize(c.n_experts);
        lw.expert_w3.resize(c.n_experts);
    }
    if (!p.add(spec.embed, "embed", c.vocab_size, H, slice.vocab, {0, H}, WEIGHT_TABLE, &out->embed)) return false;
    out->tied = spec.lm_head.file == spec.embed.file && spec.lm_head.offset == spec.embed.offset;
    if (out->tied) plan->back().tied_matrix = &out->lm_head;
    else if (!p.rows_of(spec.lm_head, "lm_head", c.vocab_size, H, slice.vocab, &out->lm_head)) return false;
    if (!p.norm(spec.final_norm, "final_norm", &out->final_norm)) return false;

    for (int l = 0; l < c.n_layers; l++) {
        const engine_layer_refs& r = spec.layers[l];
        layer_weights& lw = out->layers[l];
        const std::string at = "layer " + std::to_string(l) + " ";
        if (!p.norm(r.attn_norm, at + "attn_norm", &lw.attn_norm) || !p.norm(r.ffn_norm, at + "ffn_norm", &lw.ffn_norm) ||
            !p.rows_of(r.wq, at + "wq", c.n_heads * D, H, q_rows, &lw.wq) ||
            !p.rows_of(r.wk, at + "wk", c.n_kv_heads * D, H, kv_rows, &lw.wk) ||
            !p.rows_of(r.wv, at + "wv", c.n_kv_heads * D, H, kv_rows, &lw.wv) ||
            !p.cols_of(r.wo, at + "wo", H, c.n_heads * D, q_rows, &lw.wo))
            return false;
        if (c.n_experts == 0) {
            if (!p.rows_of(r.w1, at + "w1", I, H, slice.ffn_cols, &lw.w1) ||
                !p.rows_of(r.w3, at + "w3", I, H, slice.ffn_cols, &lw.w3) ||
                !p.cols_of(r.w2, at + "w2", H, I, slice.ffn_cols, &lw.w2))
                return false;
            continue;
        }
        if (!p.whole(r.router, at + "router", c.n_experts, H, &lw.router)) return false;
        for (int e = (int)slice.experts.begin; e < slice.experts.end; e++) {
            const engine_tensor_ref* x = r.experts + 3 * e;
            const std::string ex = at + "expert " + std::to_string(e) + " ";
            if (!p.rows_of(x[0], ex + "w1", I, H, slice.ffn_cols, &lw.expert_w1[e]) ||
                !p.cols_of(x[1], ex + "w2", H, I, slice.ffn_cols, &lw.expert_w2[e]) ||
                !p.rows_of(x[2], ex + "w3", I, H, slice.ffn_cols, &lw.expert_w3[e]))
                return false;
        }
    }
    return true;
}

bool placement_load(placement* p, const host_tensor& src, bool may_alias, backend* be, std::string* err) {
    if (p->placed) return *err = p->name + ": placed twice", false;
    if (p->use != WEIGHT_VECTOR || src.dtype == DT_F32) {
        if (!be->load_weight(src, p->use, may_alias, p->dest, err)) return false;
        if (p->tied_matrix && !be->load_weight(src, WEIGHT_MATRIX, false, p->tied_matrix, err)) return false;
    } else {
        std::vector<float> wide(src.cols);
        tensor_row_to_f32(tensor{src.data, src.dtype, 1, src.cols}, 0, wide.data());
        const host_tensor f32{wide.data(), DT_F32, 1, src.cols, (uint64_t)src.cols * 4};
        if (!be->load_weight(f32, WEIGHT_VECTOR, false, p->dest, err)) return false;
    }
    p->placed = true;
    return true;
}

bool model_load(std::vector<placement>& plan, const engine_weights& src, bool may_alias, backend* be, std::string* err) {
    for (placement& p : plan) {
        host_tensor t;
        if (!weights_resolve(&src, p.ref, p.name, &t, err)) return false;
        const bool whole = p.rows.begin == 0 && p.rows.end == t.rows && p.cols.begin == 0 && p.cols.end == t.cols;
        host_tensor part = t;
        part.data = (const char*)t.data + p.rows.begin * t.src_row_stride + row_bytes(t.dtype, p.cols.begin);
        part.rows = p.rows.size();
        part.cols = p.cols.size();
        if (!placement_load(&p, part, may_alias && whole, be, err)) return false;
        // A whole tensor the backend copied (packed) is not read again: give its pages back.
        if (may_alias && whole && p.dest->data != part.data) weights_drop_pages(part.data, row_bytes(t.dtype, t.cols) * t.rows);
    }
    return true;
}
