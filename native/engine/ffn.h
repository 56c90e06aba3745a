// Feed-forward blocks: dense SwiGLU (Mistral) and sparse mixture of experts (Mixtral).
#pragma once
#include "model.h"
#include "thread_pool.h"

// out (T, hidden) = w2(silu(w1 x) * w3 x) for x (T, hidden).
void ffn_dense(thread_pool* pool, const tensor& w1, const tensor& w3, const tensor& w2, const float* x, int T,
               float* out);

// out (T, hidden) = Σ_k weight_k · expert_k(x): router logits x @ router.T, the top-k experts
// per token (ties → lower index), softmax over those k only.
void ffn_moe(thread_pool* pool, const layer_weights& lw, const model_config& cfg, const float* x, int T, float* out);
