// One shard's weights, in its backend's memory, shaped by its slice (shard_plan.h).
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
    tensor lm_head;     // (vocab rows of the slice, hidden); the same memory as embed when tied
    tensor final_norm;  // (1, hidden) f32
    std::vector<layer_weights> layers;
};

// Places this shard's slice of every tensor into its backend. may_alias: the weights' host
// bytes outlive the engine and the shard holds whole tensors (tp = 1), so a host-memory
// backend may use them in place; otherwise every slice is repacked into the backend's memory.
bool model_load(const engine_model_spec& spec, const engine_weights& src, const shard_slice& slice, bool may_alias,
                backend* be, shard_weights* out, std::string* err);
