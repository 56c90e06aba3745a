// How a model splits across tp shards (DESIGN.md §1, tensor parallelism):
//   attention by KV-head groups — shard s holds KV heads [s·KV/N, (s+1)·KV/N) and the query
//     heads that read them; wq, wk, wv split by rows, wo by columns;
//   dense FFN (and every expert under the columns split) by intermediate columns — w1/w3
//     rows, w2 columns — in units of 32 so quantized blocks stay whole;
//   MoE under the experts split: shard s holds experts [s·E/N, (s+1)·E/N) whole;
//   embedding and lm_head by vocabulary rows; norms and the router on every shard.
// Results are partial sums, added by an all-reduce after attention and after the FFN.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine_api.h"

struct shard_range {
    int64_t begin = 0, end = 0;  // [begin, end)
    int64_t size() const { return end - begin; }
};

struct shard_slice {
    shard_range q_heads, kv_heads;
    shard_range ffn_cols;  // intermediate columns: dense FFN, and each expert under the columns split
    shard_range experts;   // experts held
    shard_range vocab;     // embedding and lm_head rows
};

// Shard `rank` of n: [rank·units/n, (rank+1)·units/n) in units of `unit`.   units 5, n 2 → 0..2, 2..5
shard_range shard_split_units(int64_t units, int64_t unit, int rank, int n);

// Every shard's slice, or false + *err naming the numbers when the model cannot split so.
bool shard_plan_make(const engine_model_spec& spec, int n, engine_moe_split split, std::vector<shard_slice>* out,
                     std::string* err);
