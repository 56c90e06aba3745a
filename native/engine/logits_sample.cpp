// engine_logits_sample (engine_api.h): src/node/sampler.ts's draw in C++, for the node's
// sampled tokens. The same float64 steps in the same order, with an exp of its own (below),
// so both pick the same token: they can differ only where the two exps (or logs) differ in a
// last bit and the draw falls on that boundary. Weights are summed by blocks (below), as
// sampler.ts sums them. In JavaScript a draw over 32,000 logits took ~0.43 ms at plain temperature and
// ~1.2 ms with top_p, on the thread that plans the next step: a fifth to a half of a
// 16-sequence decode step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine_api.h"
#include "logits_best.h"
#include "logits_exp.h"

// top_k up to this many takes the best top_k by one pass (best_ids) instead of sorting the
// candidates: its insertions cost ~top_k steps each.
static const int32_t BEST_IDS_MAX = 256;

// Tokens whose probability is below e^-30 of the best one's cannot change a draw in any
// practical way: dropped before the sort (sampler.ts: NEGLIGIBLE_LOGIT_GAP).
static const double NEGLIGIBLE_LOGIT_GAP = 30;

// The sort's digits: three passes of 11 bits over a 32-bit key (sampler.ts takes two of 16: the
// same stable order, and a 2,048-bucket count to clear a pass instead of 65,536).
static const int RADIX_BITS = 11, RADIX_BUCKETS = 1 << RADIX_BITS;

// The weights' blocks (block_sums, below).
static const int32_t BLOCK = 64;
static int32_t block_count(int32_t n) { return (n + BLOCK - 1) / BLOCK; }

// The candidates, their sort keys, tempered gaps and weights, kept between calls (one draw at
// a time a thread).
struct sample_scratch {
    std::vector<int32_t> ids, ids_tmp;
    std::vector<uint32_t> ranks, ranks_tmp;
    std::vector<double> gaps, weights, sums;
    std::vector<uint32_t> counts = std::vector<uint32_t>(RADIX_BUCKETS + 1);
    void reserve(int32_t n) {
        if ((int32_t)ids.size() >= n) return;
        ids.resize(n), ids_tmp.resize(n), ranks.resize(n), ranks_tmp.resize(n), gaps.resize(n), weights.resize(n);
        sums.resize(block_count(n));
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
    // Whether any x[i] is below −708 (or NaN): only then does each group look at its lanes one
    // by one for libm's exp — which had taken a third of the time of a row that needs none.
    f64x8 least = {};
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        f64x8 v;
        std::memcpy(&v, x + i, sizeof v);
        least = v < least ? v : least;
    }
    bool low_lanes = false;
    for (int l = 0; l < 8; l++) low_lanes |= !(least[l] >= -708.0);
    for (; i < n; i++) low_lanes |= !(x[i] >= -708.0);
    const int32_t whole = n / 8 * 8;
    double last[8] = {};  // a short last group, zeros past n
    std::memcpy(last, x + whole, sizeof(double) * (n - whole));
    for (i = 0; i < n; i += 8) {
        double* at = i < whole ? x + i : last;
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
        if (low_lanes)
            for (int l = 0; l < 8; l++)
                if (v[l] < -708.0) e[l] = std::exp(v[l]);
        std::memcpy(at, &e, sizeof e);
    }
    std::memcpy(x + whole, last, sizeof(double) * (n - whole));
}

// gaps[i] = (logits[i] − max_logit) / temperature for i < n (a division each, as sampler.ts).
VECTOR_CLONES static void tempered_gaps(double* gaps, const float* logits, int32_t n, double max_logit, double temperature) {
    for (int32_t i = 0; i < n; i++) gaps[i] = ((double)logits[i] - max_logit) / temperature;
}

// The draw's sums, by blocks of BLOCK weights in the order they are drawn in: a block's sum is
// 8 lanes — lane m adds w[8t + m] of it, t ascending — added ((0+1)+(2+3))+((4+5)+(6+7)); a
// total adds the blocks' sums in order; a draw subtracts whole blocks while its remainder is
// at least the block's sum, then the block's weights one by one (sampler.ts: blockSums,
// pickInBlocks, topPKeep). One sequential sum and one sequential scan of 32,768 weights had
// taken ~27 and ~16 µs a draw (chains of dependent adds), a third of a plain-temperature draw.
//
// sums[b] for the blocks of w[0, n) from first_block on.
VECTOR_CLONES static void block_sums(const double* w, int32_t n, double* sums, int32_t first_block = 0) {
    for (int32_t b = first_block; b < block_count(n); b++) {
        const int32_t at = b * BLOCK, m = std::min(BLOCK, n - at);
        f64x8 a = {};
        if (m == BLOCK) {
            for (int32_t t = 0; t < BLOCK; t += 8) {
                f64x8 v;
                std::memcpy(&v, w + at + t, sizeof v);
                a += v;
            }
        } else {
            for (int32_t i = 0; i < m; i++) a[i % 8] += w[at + i];
        }
        sums[b] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
}

static double blocks_total(const double* sums, int32_t n) {
    double total = 0;
    for (int32_t b = 0; b < block_count(n); b++) total += sums[b];
    return total;
}

// The first i at which r, less w[0], w[1], … in turn, falls below 0 (blocks skipped whole, as
// above); -1 if it never does.
static int32_t pick_in_blocks(const double* w, const double* sums, int32_t n, double r) {
    for (int32_t b = 0; b < block_count(n); b++) {
        if (r >= sums[b]) {
            r -= sums[b];
            continue;
        }
        for (int32_t i = b * BLOCK, end = std::min(n, i + BLOCK); i < end; i++) {
            r -= w[i];
            if (r < 0) return i;
        }
    }
    return -1;
}

// How many of w[0, n) (best first) the smallest prefix whose mass reaches target holds, by
// blocks too: a block whose sum keeps the mass under it is taken whole.
static int32_t top_p_keep(const double* w, const double* sums, int32_t n, double target) {
    double mass = 0;
    int32_t keep = 0;
    for (int32_t b = 0; b < block_count(n) && mass < target; b++) {
        const int32_t end = std::min(n, (b + 1) * BLOCK);
        if (mass + sums[b] < target) {
            mass += sums[b], keep = end;
            continue;
        }
        while (keep < end && mass < target) mass += w[keep++];
    }
    return keep;
}

// Plain temperature: one pass over the vocabulary in id order, no sort.
static int32_t sample_full(const float* logits, int32_t vocab, double max_logit, double temperature, double u, int32_t best,
                           sample_scratch& s) {
    double* w = s.weights.data();
    tempered_gaps(w, logits, vocab, max_logit, temperature);
    logits_exp_in_place(w, vocab);
    block_sums(w, vocab, s.sums.data());
    const int32_t i = pick_in_blocks(w, s.sums.data(), vocab, u * blocks_total(s.sums.data(), vocab));
    return i >= 0 ? i : best;
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
    double *w = s.weights.data(), *sums = s.sums.data();
    int32_t n = 0;
    if (top_k > 0 && top_k <= BEST_IDS_MAX) {
        // The top_k best tokens, then those of them that pass the filters: the first top_k of
        // the candidates sorted, as the filters keep every token better than one they keep.
        const int32_t best_n = best_ids(logits, vocab, top_k, s.ids.data());
        for (; n < best_n; n++) {
            const double gap = ((double)logits[s.ids[n]] - max_logit) / temperature;  // tempered_gaps'
            if (!(gap > -NEGLIGIBLE_LOGIT_GAP && gap >= min_gap)) break;
            w[n] = gap;
        }
    } else {
        double* gaps = s.gaps.data();
        tempered_gaps(gaps, logits, vocab, max_logit, temperature);
        for (int32_t i = 0; i < vocab; i++)
            if (gaps[i] > -NEGLIGIBLE_LOGIT_GAP && gaps[i] >= min_gap) s.ids[n++] = i;
        sort_best_first(logits, n, s);
        if (top_k > 0 && n > top_k) n = top_k;
        for (int32_t k = 0; k < n; k++) w[k] = gaps[s.ids[k]];
    }
    if (n == 0) return best;
    logits_exp_in_place(w, n);
    block_sums(w, n, sums);
    double total = blocks_total(sums, n);
    if (top_p < 1) {
        // Smallest prefix (by probability) whose mass reaches top_p.
        n = std::max(1, top_p_keep(w, sums, n, top_p * total));
        block_sums(w, n, sums, n / BLOCK);  // the last block, if cut
        total = blocks_total(sums, n);
    }
    const int32_t k = pick_in_blocks(w, sums, n, u * total);
    return s.ids[k >= 0 ? k : n - 1];
}
