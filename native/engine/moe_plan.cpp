#include "moe_plan.h"

#include <cmath>

void moe_route_token(const float* logits, int n_experts, int k, int32_t* experts, float* weights) {
    // Selection by repeated scans: k is 1–2 in practice and n_experts small, and a strict
    // "greater" keeps the lower index on ties.
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int e = 0; e < n_experts; e++) {
            bool taken = false;
            for (int j = 0; j < i; j++) taken |= experts[j] == e;
            if (!taken && (best < 0 || logits[e] > logits[best])) best = e;
        }
        experts[i] = best;
    }
    double sum = 0;
    for (int i = 0; i < k; i++) sum += std::exp((double)logits[experts[i]] - logits[experts[0]]);
    for (int i = 0; i < k; i++) weights[i] = (float)(std::exp((double)logits[experts[i]] - logits[experts[0]]) / sum);
}

void moe_plan_build(moe_plan* plan, int n_experts, int k, int n_tokens, const int32_t* choices, const float* weights) {
    plan->n_experts = n_experts;
    plan->top_k = k;
    plan->n_tokens = n_tokens;
    plan->expert_begin.assign(n_experts + 1, 0);
    plan->entry_token.resize((size_t)n_tokens * k);
    plan->entry_weight.resize((size_t)n_tokens * k);
    plan->token_entry.resize((size_t)n_tokens * k);
    for (int i = 0; i < n_tokens * k; i++) plan->expert_begin[choices[i] + 1]++;
    for (int e = 0; e < n_experts; e++) plan->expert_begin[e + 1] += plan->expert_begin[e];
    // Second pass in token order, so each expert's tokens come out ascending.
    plan->cursor.assign(plan->expert_begin.begin(), plan->expert_begin.end() - 1);
    for (int t = 0; t < n_tokens; t++)
        for (int i = 0; i < k; i++) {
            const int e = choices[t * k + i];
            const int entry = plan->cursor[e]++;
            plan->entry_token[entry] = t;
            plan->entry_weight[entry] = weights[t * k + i];
            plan->token_entry[t * k + i] = entry;
        }
}
