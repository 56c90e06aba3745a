#include "ffn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

static inline float silu(float v) { return v / (1.0f + std::exp(-v)); }

void ffn_dense(thread_pool* pool, const tensor& w1, const tensor& w3, const tensor& w2, const float* x, int T,
               float* out) {
    const int64_t inter = w1.rows;
    std::vector<float> gate((size_t)T * inter), up((size_t)T * inter);
    matmul(pool, gate.data(), x, w1, T);
    matmul(pool, up.data(), x, w3, T);
    for (size_t i = 0; i < gate.size(); i++) gate[i] = silu(gate[i]) * up[i];
    matmul(pool, out, gate.data(), w2, T);
}

// Top-k of one token's router logits with ties to the lower expert index; weights are the
// softmax over the chosen k only.   logits (0.1, 0.7, 0.7, 0.2), k 2 → experts 1, 2 at 0.5 each
static void route_token(const float* logits, int n_experts, int k, int* experts, float* weights) {
    std::vector<int> order(n_experts);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    double sum = 0;
    for (int i = 0; i < k; i++) sum += std::exp((double)logits[order[i]] - logits[order[0]]);
    for (int i = 0; i < k; i++) {
        experts[i] = order[i];
        weights[i] = (float)(std::exp((double)logits[order[i]] - logits[order[0]]) / sum);
    }
}

void ffn_moe(thread_pool* pool, const layer_weights& lw, const model_config& cfg, const float* x, int T, float* out) {
    const int E = cfg.n_experts, K = cfg.top_k, hidden = cfg.hidden_size;
    std::vector<float> router_logits((size_t)T * E);
    matmul(pool, router_logits.data(), x, lw.router, T);

    // Group tokens by expert so each expert's weights stream through once per step.
    std::vector<std::vector<int>> tokens_of(E);
    std::vector<std::vector<float>> weights_of(E);
    std::vector<int> chosen(K);
    std::vector<float> chosen_w(K);
    for (int t = 0; t < T; t++) {
        route_token(router_logits.data() + (size_t)t * E, E, K, chosen.data(), chosen_w.data());
        for (int i = 0; i < K; i++) {
            tokens_of[chosen[i]].push_back(t);
            weights_of[chosen[i]].push_back(chosen_w[i]);
        }
    }

    std::memset(out, 0, sizeof(float) * (size_t)T * hidden);
    std::vector<float> xg, yg;
    for (int e = 0; e < E; e++) {
        const int n = (int)tokens_of[e].size();
        if (n == 0) continue;
        xg.resize((size_t)n * hidden);
        yg.resize((size_t)n * hidden);
        for (int i = 0; i < n; i++)
            std::memcpy(&xg[(size_t)i * hidden], x + (size_t)tokens_of[e][i] * hidden, sizeof(float) * hidden);
        ffn_dense(pool, lw.expert_w1[e], lw.expert_w3[e], lw.expert_w2[e], xg.data(), n, yg.data());
        for (int i = 0; i < n; i++) {
            float* o = out + (size_t)tokens_of[e][i] * hidden;
            const float w = weights_of[e][i];
            const float* y = &yg[(size_t)i * hidden];
            for (int d = 0; d < hidden; d++) o[d] += w * y[d];
        }
    }
}
