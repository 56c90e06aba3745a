// One shard's weights, in its backend's memory, shaped by its slice (shard_plan.h), and the
// plan that fills them: one placement per stored tensor the shard needs, with the rows and
// columns of it that the shard holds.
#pragma once
#include <string>
#include <vector>

#include "backend.h"
#include "shard_plan.h"
#include "weight_source.h"

struct layer_weights {
    tensor attn_norm, ffn_norm;  // (1, hidden) f32
    tensor wq;                   // (q_heads·head_dim, hidden)       this shard's query heads
    tensor wk, wv;               // (kv_heads·head_dim, hidden)      its KV heads
    tensor wo;                   // (hidden, q_heads·head_dim)       their columns
    tensor w1, w3;               // dense: (ffn_cols, hidden)        gate, up
    tensor w2;                   // dense: (hidden, ffn_cols)        down
    tensor router;               // MoE: (n_experts, hidden)         on every shard
    std::vector<tensor> expert_w1, expert_w2, expert_w3;  // (n_experts), shaped as dense; data null if not held
};

struct shard_weights {
    tensor embed;       // (vocab rows of the slice, hidden)
    tensor lm_head;     // (vocab rows of the slice, hidden); placed from embed's bytes when tied
    tensor final_norm;  // (1, hidden) f32
    std::vector<layer_weights> layers;
    bool tied = false;
};

// Rows [rows.begin, rows.end) × columns [cols.begin, cols.end) of stored tensor `ref` go to
// *dest, laid out for `use`. Norms are widened to f32 on the way (the rmsnorm op reads f32).
// Tied embeddings arrive once and are placed twice: as the table and as the lm_head matrix.
struct placement {
    std::string name;  // "layer 3 wq": for messages
    engine_tensor_ref ref;
    shard_range rows, cols;
    weight_use use;
    tensor* dest;
    tensor* tied_matrix = nullptr;  // the embedding only, when tied: lm_head
    bool placed = false;
};

// Sizes *out for the shard and lists where each of its slices goes (pointers into *out, which
// must not be resized afterwards). false + *err if a ref's shape disagrees with the config.
bool model_plan(const engine_model_spec& spec, const shard_slice& slice, shard_weights* out, std::vector<placement>* plan,
                std::string* err);

// Places one slice: `src` holds exactly the slice's bytes, rows src_row_stride apart.
// may_alias: src outlives the engine and the slice is a whole tensor (tp = 1), so a host-memory
// backend may use it in place.
bool placement_load(placement* p, const host_tensor& src, bool may_alias, backend* be, std::string* err);

// Every placement from mapped weight files.
bool model_load(std::vector<placement>& plan, const engine_weights& src, bool may_alias, backend* be, std::string* err);
