// engine_logits_sample (engine_api.h): src/node/sampler.ts's draw in C++, for the node's
// sampled tokens. The same float64 steps in the same order, with an exp of its own (below),
// so both pick the same token: they can differ only where the two exps (or logs) differ in a
// last bit and the draw falls on that boundary. In JavaScript a draw over 32,000 logits took ~0.43 ms at plain temperature and
// ~1.2 ms with top_p, on the thread that plans the next step: a fifth to a half of a
// 16-sequence decode step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine_api.h"
#include "logits_exp.h"

// Tokens whose probability is below e^-30 of the best one's cannot change a draw in any
// practical way: dropped before the sort (sampler.ts: NEGLIGIBLE_LOGIT_GAP).
static const double NEGLIGIBLE_LOGIT_GAP = 30;

// The sort's digits: three passes of 11 bits over a 32-bit key (sampler.ts takes two of 16: the
// same stable order, and a 2,048-bucket count to clear a pass instead of 65,536).
static const int RADIX_BITS = 11, RADIX_BUCKETS = 1 << RADIX_BITS;

// The candidates, their sort keys, tempered gaps and weights, kept between calls (one draw at
// a time a thread).
struct sample_scratch {
    std::vector<int32_t> ids, ids_tmp;
    std::vector<uint32_t> ranks, ranks_tmp;
    std::vector<double> gaps, weights;
    std::vector<uint32_t> counts = std::vector<uint32_t>(RADIX_BUCKETS + 1);
    void reserve(int32_t n) {
        if ((int32_t)ids.size() >= n) return;
        ids.resize(n), ids_tmp.resize(n), ranks.resize(n), ranks_tmp.resize(n), gaps.resize(n), weights.resize(n);
    }
};

// exp(x[i]) in place for x[i] ≤ 0, i < n, 8 at a time in vector types (SSE2 to AVX-512 by the
// CPU, SIMD128 in WASM): x = k·ln 2 + r with k = round(x / ln 2), |r| ≤ ln 2 / 2, e^r by its
// Taylor series to r^13 (the next term is under 1e-17 of it), times 2^k built in the exponent
// bits. Within 1.2 ulp of exp (4 million draws in [−708, 0] against long double), and the same
// bits on every CPU and in WASM: no FMA (-ffp-contract=off), no libm — but below −708, where 2^k
// leaves the normal range, libm's exp (0 for −∞; the others under 1e-307, beside a total of at
// least 1). glibc's exp took ~4.5 ns an element, three quarters of a plain-temperature draw.
typedef double f64x8 __attribute__((vector_size(64)));
typedef int64_t i64x8 __attribute__((vector_size(64)));
// The loops below in a version for each x86 vector width, picked when the addon loads.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif
VECTOR_CLONES void logits_exp_in_place(double* x, int32_t n) {
    const double LOG2E = 1.4426950408889634, LN2_HI = 0.6931471803691238, LN2_LO = 1.9082149292705877e-10;
    const double ROUND = 6755399441055744.0;  // 1.5 · 2^52: x + ROUND − ROUND rounds x to an integer
    const int64_t ROUND_BITS = 0x4338000000000000;
    for (int32_t i = 0; i < n; i += 8) {
        const int32_t m = std::min(8, n - i);
        double last[8] = {};  // a short last group: zeros past n
        double* at = m == 8 ? x + i : (double*)std::memcpy(last, x + i, sizeof(double) * m);
        f64x8 v;
        std::memcpy(&v, at, sizeof v);
        const f64x8 low = f64x8{} - 708.0, vc = v < low ? low : v;  // lanes below: libm's, after
        const f64x8 t = vc * LOG2E + ROUND, k = t - ROUND;
        const f64x8 r = (vc - k * LN2_HI) - k * LN2_LO;
        f64x8 e = f64x8{} + 1.0 / 6227020800.0;  // 1/13!
        for (double c : {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                         1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
            e = e * r + c;
        i64x8 ki;
        std::memcpy(&ki, &t, sizeof ki);
        const i64x8 scale_bits = ((ki - ROUND_BITS) + 1023) << 52;
        f64x8 scale;
        std::memcpy(&scale, &scale_bits, sizeof scale);
        e *= scale;
        for (int l = 0; l < 8; l++)
            if (v[l] < -708.0) e[l] = std::exp(v[l]);
        std::memcpy(at, &e, sizeof e);
        if (at == last) std::memcpy(x + i, last, sizeof(double) * m);
    }
}

// gaps[i] = (logits[i] − max_logit) / temperature for i < n (a division each, as sampler.ts).
VECTOR_CLONES static void tempered_gaps(double* gaps, const float* logits, int32_t n, double max_logit, double temperature) {
    for (int32_t i = 0; i < n; i++) gaps[i] = ((double)logits[i] - max_logit) / temperature;
}

// Plain temperature: one pass over the vocabulary in id order, no sort.
static int32_t sample_full(const float* logits, int32_t vocab, double max_logit, double temperature, double u, int32_t best,
                           sample_scratch& s) {
    tempered_gaps(s.weights.data(), logits, vocab, max_logit, temperature);
    logits_exp_in_place(s.weights.data(), vocab);
    double total = 0;
    for (int32_t i = 0; i < vocab; i++) total += s.weights[i];
    double r = u * total;
    for (int32_t i = 0; i < vocab; i++) {
        r -= s.weights[i];
        if (r < 0) return i;
    }
    return best;
}

// One stable counting pass on the RADIX_BITS-bit digit at `shift`.
static void radix_pass(const uint32_t* from_rank, const int32_t* from_id, uint32_t* to_rank, int32_t* to_id, int32_t n, int shift,
                       uint32_t* counts) {
    const uint32_t mask = RADIX_BUCKETS - 1;
    std::memset(counts, 0, sizeof(uint32_t) * (RADIX_BUCKETS + 1));
    for (int32_t k = 0; k < n; k++) counts[((from_rank[k] >> shift) & mask) + 1]++;
    for (int d = 1; d <= RADIX_BUCKETS; d++) counts[d] += counts[d - 1];
    for (int32_t k = 0; k < n; k++) {
        const uint32_t at = counts[(from_rank[k] >> shift) & mask]++;
        to_rank[at] = from_rank[k];
        to_id[at] = from_id[k];
    }
}

// ids[0, n) (ascending) best first: larger logit, then lower id. Each logit's float32 bits made
// monotone and reversed, sorted stably digit by digit (−0 ranks as +0, as comparing does).
static void sort_best_first(const float* logits, int32_t n, sample_scratch& s) {
    for (int32_t k = 0; k < n; k++) {
        const float l = logits[s.ids[k]] == 0 ? 0.0f : logits[s.ids[k]];
        uint32_t bits;
        std::memcpy(&bits, &l, sizeof bits);
        s.ranks[k] = bits & 0x80000000u ? bits : ~bits & 0x7fffffffu;  // descends as the float ascends
    }
    uint32_t *rank = s.ranks.data(), *rank_tmp = s.ranks_tmp.data();
    int32_t *id = s.ids.data(), *id_tmp = s.ids_tmp.data();
    for (int shift = 0; shift < 32; shift += RADIX_BITS) {
        radix_pass(rank, id, rank_tmp, id_tmp, n, shift, s.counts.data());
        std::swap(rank, rank_tmp), std::swap(id, id_tmp);
    }
    if (id != s.ids.data()) std::memcpy(s.ids.data(), id, sizeof(int32_t) * n);  // (three passes: it ends in the copy)
}

int32_t engine_logits_sample(const float* logits, int32_t vocab, double temperature, int32_t top_k, double top_p, double min_p,
                             double u, int32_t best) {
    static thread_local sample_scratch s;
    s.reserve(vocab);
    const double max_logit = logits[best];
    if (top_k == 0 && top_p >= 1 && min_p == 0) return sample_full(logits, vocab, max_logit, temperature, u, best, s);
    // min-p as vLLM applies it: on the tempered distribution, before top-k and top-p.
    const double min_gap = min_p > 0 ? std::log(min_p) : -INFINITY;
    double* gaps = s.gaps.data();
    tempered_gaps(gaps, logits, vocab, max_logit, temperature);
    int32_t n = 0;
    for (int32_t i = 0; i < vocab; i++)
        if (gaps[i] > -NEGLIGIBLE_LOGIT_GAP && gaps[i] >= min_gap) s.ids[n++] = i;
    if (n == 0) return best;
    sort_best_first(logits, n, s);
    if (top_k > 0 && n > top_k) n = top_k;
    for (int32_t k = 0; k < n; k++) s.weights[k] = gaps[s.ids[k]];
    logits_exp_in_place(s.weights.data(), n);
    double total = 0;
    for (int32_t k = 0; k < n; k++) total += s.weights[k];
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
