// The best tokens of a logits row, in the order the node ranks them: larger logit first, then
// lower id — what a stable sort of the whole row, best first, begins with. For logprobs' top
// tokens (logits_logprobs.cpp) and top_k draws (logits_sample.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

// The n best ids of logits[0, vocab) into ids (room for n), NaNs passed over; returns how many
// (fewer than n only if the row has fewer numbers). One pass: a later id enters only over the
// worst kept, so of equal logits the lower ids stay (a 32,768-logit row, n = 40: ~20 µs, where
// sorting the row took ~200).
inline int32_t best_ids(const float* logits, int32_t vocab, int32_t n, int32_t* ids) {
    n = std::min(n, vocab);
    int32_t kept = 0;
    float worst = -INFINITY;  // the last kept one's logit, once n are kept
    for (int32_t i = 0; i < vocab && n > 0; i++) {
        if (kept == n ? !(logits[i] > worst) : std::isnan(logits[i])) continue;
        int32_t at = kept < n ? kept++ : n - 1;  // full: the worst goes
        while (at > 0 && logits[i] > logits[ids[at - 1]]) ids[at] = ids[at - 1], at--;
        ids[at] = i;
        worst = logits[ids[kept - 1]];
    }
    return kept;
}
