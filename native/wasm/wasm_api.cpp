// The WASM module's exports beyond engine_api.h: flat versions of the calls that take or fill
// nested structs, so the JS side (src/engine/wasm.ts) writes and reads plain int arrays instead
// of mirroring C struct layouts. The other engine_api.h calls are exported as they are.
#include <cstring>
#include <vector>

#include "engine_api.h"

namespace {

// A tensor reference as 5 int64: file, offset, dtype, rows, cols.
const int REF_INTS = 5;
engine_tensor_ref read_ref(const int64_t* r) { return engine_tensor_ref{(int32_t)r[0], (uint64_t)r[1], (int32_t)r[2], r[3], r[4]}; }

}  // namespace

extern "C" {

// config (11 int32): vocab_size, hidden_size, intermediate_size, n_layers, n_heads, n_kv_heads,
//   head_dim, n_experts, top_k, window, rope_interleaved.
// refs (n_refs × 5 int64): embed, final_norm, lm_head, then per layer attn_norm, wq, wk, wv, wo,
//   ffn_norm and either w1, w2, w3 (dense) or router and each expert's w1, w2, w3 (MoE).
// The engine starts empty: its slices arrive with engine_load_slice (engine_load_plan).
engine_status wasm_engine_create(const int32_t* config, float rms_eps, double rope_theta, const int64_t* refs,
                                 int32_t n_refs, const char* isa, int32_t kv_dtype, int64_t kv_max_blocks, engine** out) {
    engine_model_spec spec{};
    engine_model_config& c = spec.config;
    c = engine_model_config{config[0], config[1], config[2], config[3], config[4], config[5], config[6], config[7],
                            config[8], config[9], rms_eps, rope_theta, config[10]};
    const int per_layer = c.n_experts > 0 ? 7 + 3 * c.n_experts : 9;
    if (c.n_layers <= 0 || c.n_experts < 0 || n_refs != 3 + c.n_layers * per_layer)
        return engine_refuse(ENGINE_BAD_INPUT, "wasm_engine_create: the tensor references do not match the config");
    spec.embed = read_ref(refs);
    spec.final_norm = read_ref(refs + REF_INTS);
    spec.lm_head = read_ref(refs + 2 * REF_INTS);
    std::vector<engine_layer_refs> layers(c.n_layers);
    std::vector<engine_tensor_ref> experts((size_t)c.n_layers * 3 * c.n_experts);
    for (int l = 0; l < c.n_layers; l++) {
        const int64_t* r = refs + (3 + (int64_t)l * per_layer) * REF_INTS;
        engine_layer_refs& L = layers[l];
        L.attn_norm = read_ref(r), L.wq = read_ref(r + 5), L.wk = read_ref(r + 10), L.wv = read_ref(r + 15);
        L.wo = read_ref(r + 20), L.ffn_norm = read_ref(r + 25);
        if (c.n_experts == 0) {
            L.w1 = read_ref(r + 30), L.w2 = read_ref(r + 35), L.w3 = read_ref(r + 40);
            continue;
        }
        L.router = read_ref(r + 30);
        engine_tensor_ref* ex = experts.data() + (size_t)l * 3 * c.n_experts;
        for (int i = 0; i < 3 * c.n_experts; i++) ex[i] = read_ref(r + 35 + i * REF_INTS);
        L.experts = ex;
    }
    spec.layers = layers.data();
    const engine_options options{"cpu", isa, 1, 1, ENGINE_MOE_SPLIT_COLUMNS, kv_dtype, kv_max_blocks};
    return engine_create(&spec, nullptr, &options, out);
}

// Up to cap slices as 8 int64 each: shard, file, offset, row_begin, row_end, col_begin, col_end,
// bytes. Returns how many there are in all.
int32_t wasm_engine_load_plan(const engine* e, int64_t* out, int32_t cap) {
    const int32_t n = engine_load_plan(e, nullptr, 0);
    std::vector<engine_slice> slices(n);
    engine_load_plan(e, slices.data(), n);
    for (int32_t i = 0; i < n && i < cap; i++) {
        const engine_slice& s = slices[i];
        int64_t* o = out + 8 * i;
        o[0] = s.shard, o[1] = s.ref.file, o[2] = (int64_t)s.ref.offset, o[3] = s.row_begin, o[4] = s.row_end;
        o[5] = s.col_begin, o[6] = s.col_end, o[7] = (int64_t)s.bytes;
    }
    return n;
}

// out (6 int64): kv_block_slots, kv_blocks_in_use, kv_block_bytes, weight_bytes_total,
// threads_per_shard, tp; backend: 32 chars ("cpu/wasm_simd128").
void wasm_engine_info(const engine* e, int64_t* out, char* backend) {
    engine_info info;
    engine_get_info(e, &info);
    out[0] = info.kv_block_slots, out[1] = info.kv_blocks_in_use, out[2] = (int64_t)info.kv_block_bytes;
    out[3] = (int64_t)info.weight_bytes_total, out[4] = info.threads_per_shard, out[5] = info.tp;
    std::memcpy(backend, info.backend, sizeof(info.backend));
}

}  // extern "C"
