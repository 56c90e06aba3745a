// The routing plan of one MoE layer for one step: which tokens each expert serves and with
// what weight. Built by the backend's moe_route op from the router logits, consumed by its
// moe op. Entries are grouped by expert so an expert's weights stream through once per step.
//   T 3, k 2, token 0 → experts (2, 0), token 1 → (0, 3), token 2 → (2, 3):
//   expert_begin (0, 2, 2, 4, 6): expert 0 serves entries 0..1 = tokens 0, 1; expert 2 entries
//   2..3 = tokens 0, 2; expert 3 entries 4..5 = tokens 1, 2.
#pragma once
#include <cstdint>
#include <vector>

struct moe_plan {
    int n_experts = 0, top_k = 0, n_tokens = 0;
    std::vector<int32_t> expert_begin;  // (n_experts + 1)
    std::vector<int32_t> entry_token;   // (n_tokens · top_k) grouped by expert, tokens ascending
    std::vector<float> entry_weight;    // (n_tokens · top_k)
    std::vector<int32_t> token_entry;   // (n_tokens, top_k) entry of token t's i-th choice, best first
    std::vector<int32_t> cursor;        // (n_experts) scratch of moe_plan_build
};

// Top-k of one token's router logits with ties to the lower expert index; weights are the
// softmax over the chosen k only.   logits (0.1, 0.7, 0.7, 0.2), k 2 → experts 1, 2 at 0.5 each
void moe_route_token(const float* logits, int n_experts, int k, int32_t* experts, float* weights);

// Fills plan from per-token choices (n_tokens, k) by counting sort; no allocation once the
// plan's vectors have grown to the step's size.
void moe_plan_build(moe_plan* plan, int n_experts, int k, int n_tokens, const int32_t* choices, const float* weights);
