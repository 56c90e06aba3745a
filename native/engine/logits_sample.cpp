// engine_logits_sample (engine_api.h): src/node/sampler.ts's draw in C++, for the node's
// sampled tokens. The same float64 steps in the same order, so both pick the same token
// (they can differ only where exp or log differ in a last bit and the draw falls on that
// boundary). In JavaScript a draw over 32,000 logits took ~0.43 ms at plain temperature and
// ~1.2 ms with top_p, on the thread that plans the next step: a fifth to a half of a
// 16-sequence decode step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine_api.h"

// Tokens whose probability is below e^-30 of the best one's cannot change a draw in any
// practical way: dropped before the sort (sampler.ts: NEGLIGIBLE_LOGIT_GAP).
static const double NEGLIGIBLE_LOGIT_GAP = 30;

// The candidates, their sort keys and weights, kept between calls (one draw at a time a thread).
struct sample_scratch {
    std::vector<int32_t> ids, ids_tmp;
    std::vector<uint32_t> ranks, ranks_tmp;
    std::vector<double> weights;
    std::vector<uint32_t> counts = std::vector<uint32_t>(65537);
    void reserve(int32_t n) {
        if ((int32_t)ids.size() >= n) return;
        ids.resize(n), ids_tmp.resize(n), ranks.resize(n), ranks_tmp.resize(n), weights.resize(n);
    }
};

static double weight(const float* logits, int32_t i, double max_logit, double temperature) {
    return std::exp(((double)logits[i] - max_logit) / temperature);
}

// Plain temperature: one pass over the vocabulary in id order, no sort.
static int32_t sample_full(const float* logits, int32_t vocab, double max_logit, double temperature, double u, int32_t best,
                           sample_scratch& s) {
    double total = 0;
    for (int32_t i = 0; i < vocab; i++) total += s.weights[i] = weight(logits, i, max_logit, temperature);
    double r = u * total;
    for (int32_t i = 0; i < vocab; i++) {
        r -= s.weights[i];
        if (r < 0) return i;
    }
    return best;
}

// One stable counting pass on the 16-bit digit at `shift` (sampler.ts: radixPass).
static void radix_pass(const uint32_t* from_rank, const int32_t* from_id, uint32_t* to_rank, int32_t* to_id, int32_t n, int shift,
                       uint32_t* counts) {
    std::memset(counts, 0, sizeof(uint32_t) * 65537);
    for (int32_t k = 0; k < n; k++) counts[((from_rank[k] >> shift) & 0xffff) + 1]++;
    for (int d = 1; d <= 65536; d++) counts[d] += counts[d - 1];
    for (int32_t k = 0; k < n; k++) {
        const uint32_t at = counts[(from_rank[k] >> shift) & 0xffff]++;
        to_rank[at] = from_rank[k];
        to_id[at] = from_id[k];
    }
}

// ids[0, n) (ascending) best first: larger logit, then lower id. Each logit's float32 bits made
// monotone and reversed, sorted stably by two 16-bit digits (−0 ranks as +0, as comparing does).
static void sort_best_first(const float* logits, int32_t n, sample_scratch& s) {
    for (int32_t k = 0; k < n; k++) {
        const float l = logits[s.ids[k]] == 0 ? 0.0f : logits[s.ids[k]];
        uint32_t bits;
        std::memcpy(&bits, &l, sizeof bits);
        s.ranks[k] = bits & 0x80000000u ? bits : ~bits & 0x7fffffffu;  // descends as the float ascends
    }
    radix_pass(s.ranks.data(), s.ids.data(), s.ranks_tmp.data(), s.ids_tmp.data(), n, 0, s.counts.data());
    radix_pass(s.ranks_tmp.data(), s.ids_tmp.data(), s.ranks.data(), s.ids.data(), n, 16, s.counts.data());
}

int32_t engine_logits_sample(const float* logits, int32_t vocab, double temperature, int32_t top_k, double top_p, double min_p,
                             double u, int32_t best) {
    static thread_local sample_scratch s;
    s.reserve(vocab);
    const double max_logit = logits[best];
    if (top_k == 0 && top_p >= 1 && min_p == 0) return sample_full(logits, vocab, max_logit, temperature, u, best, s);
    // min-p as vLLM applies it: on the tempered distribution, before top-k and top-p.
    const double min_gap = min_p > 0 ? std::log(min_p) : -INFINITY;
    int32_t n = 0;
    for (int32_t i = 0; i < vocab; i++) {
        const double gap = ((double)logits[i] - max_logit) / temperature;
        if (gap > -NEGLIGIBLE_LOGIT_GAP && gap >= min_gap) s.ids[n++] = i;
    }
    if (n == 0) return best;
    sort_best_first(logits, n, s);
    if (top_k > 0 && n > top_k) n = top_k;
    double total = 0;
    for (int32_t k = 0; k < n; k++) total += s.weights[k] = weight(logits, s.ids[k], max_logit, temperature);
    if (top_p < 1) {
        // Smallest prefix (by probability) whose mass reaches top_p.
        double mass = 0;
        int32_t keep = 0;
        while (keep < n && mass < top_p * total) mass += s.weights[keep++];
        n = std::max(1, keep);
        total = 0;
        for (int32_t k = 0; k < n; k++) total += s.weights[k];
    }
    double r = u * total;
    for (int32_t k = 0; k < n; k++) {
        r -= s.weights[k];
        if (r < 0) return s.ids[k];
    }
    return s.ids[n - 1];
}
