#include "shard_plan.h"

shard_range shard_split_units(int64_t units, int64_t unit, int rank, int n) {
    return {units * rank / n * unit, units * (rank + 1) / n * unit};
}

static bool is_quant(int dtype) { return dtype == ENGINE_DT_Q8_0 || dtype == ENGINE_DT_Q4_0; }

static std::string divisors(int64_t v) {
    std::string s;
    for (int64_t d = 1; d <= v; d++)
        if (v % d == 0) s += (s.empty() ? "" : ", ") + std::to_string(d);
    return s;
}

bool shard_plan_make(const engine_model_spec& spec, int n, engine_moe_split split, std::vector<shard_slice>* out,
                     std::string* err) {
    const engine_model_config& c = spec.config;
    const std::string tp = "--tp " + std::to_string(n);
    if (n < 1 || n > 64) return *err = tp + ": the number of shards must be 1–64", false;
    if (c.n_kv_heads % n != 0)
        return *err = tp + " does not divide num_key_value_heads " + std::to_string(c.n_kv_heads) +
                      ": attention splits by KV-head groups (possible: " + divisors(c.n_kv_heads) + ")",
               false;
    const int q_cols = c.n_heads / n * c.head_dim;
    if (n > 1 && c.n_layers > 0 && is_quant(spec.layers[0].wo.dtype) && q_cols % 32 != 0)
        return *err = tp + ": each shard would hold " + std::to_string(c.n_heads / n) + " query heads × head_dim " +
                      std::to_string(c.head_dim) + " = " + std::to_string(q_cols) +
                      " columns of wo, not whole 32-element quantized blocks",
               false;
    const bool experts_split = c.n_experts > 0 && split == ENGINE_MOE_SPLIT_EXPERTS;
    if (experts_split && c.n_experts % n != 0)
        return *err = "--moe-split experts: " + tp + " does not divide num_local_experts " + std::to_string(c.n_experts) +
                      " (possible: " + divisors(c.n_experts) + "; or --moe-split columns)",
               false;
    // Intermediate columns in blocks of 32 (whole quantized blocks) when the size allows.
    const int64_t unit = c.intermediate_size % 32 == 0 ? 32 : 1;
    const int64_t units = c.intermediate_size / unit;
    if (!experts_split && units < n)
        return *err = tp + ": intermediate_size " + std::to_string(c.intermediate_size) + " is only " +
                      std::to_string(units) + " blocks of " + std::to_string(unit) + " columns, fewer than the shards",
               false;
    if (c.vocab_size < n) return *err = tp + ": more shards than vocabulary rows", false;
    out->clear();
    for (int s = 0; s < n; s++) {
        shard_slice sl;
        sl.kv_heads = shard_split_units(c.n_kv_heads, 1, s, n);
        sl.q_heads = shard_split_units(c.n_heads, 1, s, n);
        sl.ffn_cols = experts_split ? shard_range{0, c.intermediate_size} : shard_split_units(units, unit, s, n);
        sl.experts = experts_split ? shard_split_units(c.n_experts, 1, s, n) : shard_range{0, c.n_experts};
        sl.vocab = shard_split_units(c.vocab_size, 1, s, n);
        out->push_back(sl);
    }
    return true;
}
