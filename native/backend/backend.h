// The seam between the model and the hardware. engine_step (engine.cpp) is a fixed sequence
// of the ops below; a backend runs them on memory it owns — weights, activations, K/V
// storage — for one shard. The CPU backend (cpu/) is the first; a CUDA backend implements
// this same class in its own folder (device pointers in place of host ones) and touches no
// model code. Pointers passed to ops (float* activations, tensor data) are this backend's
// memory, obtained from it; host memory is named as such.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "dtype.h"
#include "moe_plan.h"
#include "step_batch.h"

// What one shard computes: its slice of the model's shapes.
struct backend_shape {
    int hidden;
    int n_heads, n_kv_heads;  // this shard's query and KV heads
    int head_dim;
    int n_layers;
    bool rope_interleaved;    // RoPE pairs (x[2k], x[2k+1]) instead of (x[k], x[k + D/2])
    double rope_theta;
};

struct backend_config {
    backend_shape shape;
    int n_threads;       // threads this shard computes with (the calling thread counts as one)
    std::string isa;     // CPU: kernel table to force ("scalar", "avx2", "avx512"), "" = best
    kv_dtype_t kv_dtype;  // dtype.h
    int64_t kv_max_blocks;  // the K/V pool's limit in blocks (engine_options), 0 = none
};

// A tensor's bytes in host memory, as a slice of a stored one: `rows` rows, `src_row_stride`
// bytes apart, each contributing row_bytes(dtype, cols) bytes. Contiguous when the stride
// equals the row's bytes.
struct host_tensor {
    const void* data;
    dtype_t dtype;
    int64_t rows, cols;
    uint64_t src_row_stride;
};

// What a weight is used for, so a backend may lay it out for that use.
//   vector: a norm's (1, n) f32 weights, read element-wise;
//   table:  the embedding, read one row per token (embed);
//   matrix: the right operand of matmul, moe and logits (a CPU backend packs it in panels).
enum weight_use : int { WEIGHT_VECTOR = 0, WEIGHT_TABLE = 1, WEIGHT_MATRIX = 2 };

// The experts this shard runs in one MoE layer (w.data == null: another shard owns it).
struct moe_experts {
    const tensor* w1;  // (n_experts) each (inter_local, hidden)
    const tensor* w3;  // (n_experts) each (inter_local, hidden)
    const tensor* w2;  // (n_experts) each (hidden, inter_local)
};

// One matmul of a matmuls() call: y (T, ldy) columns [0, w->rows) = x @ w->T.
struct matmul_out {
    float* y;
    int64_t ldy;
    const tensor* w;
};

class backend {
   public:
    virtual ~backend() = default;
    virtual std::string name() const = 0;  // "cpu/avx2"
    virtual int threads() const = 0;

    // ---- memory
    // Places a weight into this backend's memory, laid out for `use`. may_alias: the host bytes
    // outlive the engine, so a backend that computes on host memory may use them in place
    // (out->data == src.data then; otherwise it copied and no longer needs them).
    virtual bool load_weight(const host_tensor& src, weight_use use, bool may_alias, tensor* out, std::string* err) = 0;
    virtual uint64_t weight_bytes() const = 0;   // bytes of weights this shard computes with (owned or in place)
    // K/V storage for block ids [0, n_blocks) (each block: KV_BLOCK_SLOTS slots of every layer).
    virtual bool kv_grow(int64_t n_blocks) = 0;
    virtual uint64_t kv_block_bytes() const = 0;
    // A buffer of at least n floats, kept across steps (grow-only), for activations. Slots
    // are the engine's names for its buffers; a slot's previous contents are not kept.
    virtual float* scratch(int slot, size_t n) = 0;

    // ---- ops, in the order engine_step calls them
    virtual void begin_step(const step_batch& b) = 0;  // positions → RoPE angles, etc.
    // x (T, hidden): row t = table row (token t − first_row) if this shard holds it, else 0.
    virtual void embed(float* x, const tensor& table, int64_t first_row, const step_batch& b) = 0;
    // y (n_rows, n) = rmsnorm of x rows (rows ? rows[i] : i) with weight w (1, n), f32.
    virtual void rmsnorm(float* y, const float* x, const int32_t* rows, int n_rows, const tensor& w, float eps) = 0;
    // y (T, ldy) columns [0, w.rows) = x (T, w.cols) @ w.T.
    virtual void matmul(float* y, int64_t ldy, const float* x, int T, const tensor& w) = 0;
    // Several matmuls of the same x (T, K), every w K wide (Q, K and V; gate and up): as many
    // matmul calls would give, bit for bit; a backend may run them as one pass.
    virtual void matmuls(const float* x, int T, const matmul_out* outs, int n) = 0;
    virtual void rope(float* x, int n_heads, const step_batch& b) = 0;  // x (T, n_heads·head_dim), in place
    // out (T, n_heads·D): each query over the cached keys before its chunk and the chunk's own
    // k/v (T, n_kv_heads·D), under the window rule. false if a slot holds the wrong position.
    virtual bool attention(float* out, int layer, const float* q, const float* k, const float* v,
                           const step_batch& b) = 0;
    // Stores the keys/values later queries can still see (kv_first_cached onwards).
    virtual void kv_write(int layer, const float* k, const float* v, const step_batch& b) = 0;
    virtual void swiglu(float* gate, const float* up, size_t n) = 0;  // gate = silu(gate) · up
    // Router logits (T, n_experts) → plan (host memory; moe_plan.h).
    virtual void moe_route(moe_plan* plan, const float* router_logits, int T, int n_experts, int top_k) = 0;
    // out (T, hidden) = Σ over the plan's entries whose expert this shard holds of weight ·
    // expert(x row), each token's entries added in its choice order.
    virtual void moe(float* out, const float* x, const moe_plan& plan, const moe_experts& experts) = 0;
    virtual void add(float* x, const float* y, size_t n) = 0;  // x += y
    // Host logits (rows, ld) columns [col0, col0 + w.rows) = x (rows, w.cols) @ w.T.
    virtual void logits(float* host_logits, int64_t ld, int64_t col0, const float* x, int rows, const tensor& w) = 0;

    // ---- host work between steps
    // fn(i) for every i < n, on the calling thread and this backend's host threads, which no
    // step may be using meanwhile: the node's draws of a batch's sampled tokens. A backend
    // without host threads of its own runs them in turn on the calling thread.
    virtual void host_for(int n, const std::function<void(int i)>& fn) {
        for (int i = 0; i < n; i++) fn(i);
    }
};

// "cpu" is the one backend today. null + *err if it cannot start (e.g. an ISA the CPU lacks).
backend* backend_create(const std::string& kind, const backend_config& cfg, std::string* err);
