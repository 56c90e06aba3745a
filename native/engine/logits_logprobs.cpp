// engine_logits_logprobs (engine_api.h): what a request's logprobs need of a logits row — its
// log-sum-exp and its best tokens — for src/node/sampler.ts, which reports raw[token] − lse.
// In JavaScript a 32,000-logit row took ~0.8 ms (two passes of iterators and Math.exp), on the
// thread that plans the next step: longer than a small model's whole decode step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine_api.h"
#include "logits_best.h"
#include "logits_exp.h"

// max + log Σ exp(x − max), the sum in 8 lanes added pairwise at the end (not JavaScript's
// order: the last bits of a logprob may differ from sampler.ts's, never the tokens).
static double log_sum_exp(const float* logits, int32_t vocab) {
    float lane_max[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int32_t i = 0; i + 8 <= vocab; i += 8)  // 8 chains, not one of vocab dependent steps
        for (int l = 0; l < 8; l++) lane_max[l] = std::max(lane_max[l], logits[i + l]);
    float max = *std::max_element(lane_max, lane_max + 8);
    for (int32_t i = vocab / 8 * 8; i < vocab; i++) max = std::max(max, logits[i]);
    static thread_local std::vector<double> e;
    e.resize((size_t)vocab);
    for (int32_t i = 0; i < vocab; i++) e[i] = (double)logits[i] - max;
    logits_exp_in_place(e.data(), vocab);
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t i = 0;
    for (; i + 8 <= vocab; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += e[i + l];
    for (; i < vocab; i++) lane[0] += e[i];
    const double sum = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    return max + std::log(sum);
}

double engine_logits_logprobs(const float* logits, int32_t vocab, int32_t top_n, int32_t* top_ids, int32_t* n_top) {
    *n_top = best_ids(logits, vocab, top_n, top_ids);
    return log_sum_exp(logits, vocab);
}
