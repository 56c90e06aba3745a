// The CPU backend: one shard's weights, activations and K/V storage in host memory, computed
// by its own thread pool with the kernel table chosen once at start (kernels.h).
#pragma once
#include <vector>

#include "backend.h"
#include "kernels.h"
#include "panel_groups.h"
#include "panel_layout.h"
#include "thread_pool.h"
#include "weight_arena.h"

class cpu_backend final : public backend {
   public:
    cpu_backend(const backend_config& cfg, const cpu_kernels* k);
    ~cpu_backend() override;

    std::string name() const override { return std::string("cpu/") + k_->isa; }
    int threads() const override { return thread_pool_size(pool_); }

    bool load_weight(const host_tensor& src, weight_use use, bool may_alias, tensor* out, std::string* err) override;
    uint64_t weight_bytes() const override { return weight_bytes_; }
    bool kv_grow(int64_t n_blocks) override;
    uint64_t kv_block_bytes() const override;
    float* scratch(int slot, size_t n) override;

    void begin_step(const step_batch& b) override;
    void embed(float* x, const tensor& table, int64_t first_row, const step_batch& b) override;
    void rmsnorm(float* y, const float* x, const int32_t* rows, int n_rows, const tensor& w, float eps) override;
    void matmul(float* y, int64_t ldy, const float* x, int T, const tensor& w) override;
    void matmuls(const float* x, int T, const matmul_out* outs, int n) override;
    void rope(float* x, int n_heads, const step_batch& b) override;
    bool attention(float* out, int layer, const float* q, const float* k, const float* v, const step_batch& b) override;
    void kv_write(int layer, const float* k, const float* v, const step_batch& b) override;
    void swiglu(float* gate, const float* up, size_t n) override;
    void moe_route(moe_plan* plan, const float* router_logits, int T, int n_experts, int top_k) override;
    void moe(float* out, const float* x, const moe_plan& plan, const moe_experts& experts) override;
    void add(float* x, const float* y, size_t n) override;
    void logits(float* host_logits, int64_t ld, int64_t col0, const float* x, int rows, const tensor& w) override;
    void host_for(int n, const std::function<void(int i)>& fn) override;

   private:
    // Each out's y (T, ldy) = activation rows x @ w.T for every row of its w, on the pool in
    // one parallel region over all their work items (cpu_matmul.cpp).
    void matmul_rows(const act_rows& x, int T, const matmul_out* outs, int n);
    // Quantizes T activation rows (n each) into qa_[buf] (cpu_matmul.cpp).
    qact_rows quantize_rows(const act_rows& x, int T, int64_t n, int buf);
    // How matmul and moe split the work: work items of 4 panels a quarter of the matrix apart
    // (panel_groups.h), tokens in blocks of TOKEN_BLOCK — large, so a prefill streams each
    // panel from memory once (best at 256 for 2048- and 5632-wide rows; 48 ran 10% slower).
    static constexpr int TOKEN_BLOCK = 256;
    // Whether the kernels read a call of T tokens' activations packed (kernels.h).
    bool packs(int T) const { return T >= k_->pack_min_tokens; }
    // Matmuls of at most STREAM_TOKENS tokens (decode) are bound by reading the weights: their
    // work items go out in contiguous shares, each thread streaming a run of whole matrices
    // where a region has several (thread_pool_for_shares). Two threads, batch-1 Q4_0 step,
    // interleaved A/B on an Intel Xeon (AVX-512): mixtral-mini 0.968 (4 of 4 rounds),
    // mistral-mini 1.00. Longer calls go out in shrinking chunks.
    static constexpr int STREAM_TOKENS = 4;
    void for_items(int n, int T, const thread_pool_fn& fn);
    // fn(matrix, panel_set) for every work item of panel_items_, dealt out as for_items does.
    template <typename F>
    void for_panel_groups(int T, F&& fn) {
        for_items(panel_items_.n, T, [&](int begin, int end, int) { panel_items_.each(begin, end, fn); });
    }
    // Whether matrices of this dtype and rows are BF16 tile pairs here (panel_layout.h).
    bool tile_pairs_for(dtype_t dt, int64_t rows) const { return k_->bf16_tile_pairs && bf16_tile_pairs_fit(dt, rows); }
    // x with its T rows (K wide) packed, each where not null: into out for the float kernels
    // (.packed) when packs(T), and into out_bf16 for the tile-pair ones (.packed_bf16), which
    // read nothing else; in one parallel region when packs(T), else on the calling thread.
    act_rows pack_rows(const act_rows& x, int T, int64_t K, float* out, uint16_t* out_bf16);
    // packed_ and packed_bf16_ for rows activation rows of K (out_bf16: to the end of the last
    // token tile of 16, which the tiles load whole); null where not wanted.
    float* packed_floats(bool want, int rows, int64_t K);
    uint16_t* packed_bf16(bool want, int rows, int64_t K);
    // Panels ps of matrix w against T activation rows, on the calling thread: float x, or its
    // quantized copy xq for Q8_0 / Q4_0 weights.
    void matmul_panels(float* y, int64_t ldy, const act_rows& x, const qact_rows& xq, int T, const tensor& w,
                       const panel_set& ps) const;
    // K or V (value = true) of `layer`, KV head `head`, slot `slot` of a sequence: a row of
    // head_dim elements in the K/V dtype (dtype.h).
    void* kv_at(const kv_seq* seq, int layer, int head, int64_t slot, bool value) const;
    int64_t kv_row_bytes() const { return ::kv_row_bytes(cfg_.kv_dtype, cfg_.shape.head_dim); }
    // keys[i], values[i] = the cached rows of positions j0 + i, i < n, of KV head g (cpu_attention.cpp);
    // false if a slot holds another position.
    bool cached_rows(const kv_seq* seq, int layer, int g, int64_t j0, int n, const void** keys, const void** values) const;
    const std::vector<int>& attn_order(const step_batch& b);  // cpu_attention.cpp
    const std::vector<int>& attn_groups(const step_batch& b, const std::vector<int>& order, int most);
    void kv_store_row(const float* x, void* dst) const;  // x (head_dim) as the cache stores a row (dtype.h)

    backend_config cfg_;
    const cpu_kernels* k_;
    thread_pool* pool_;
    weight_arena arena_;
    uint64_t weight_bytes_ = 0;                   // the weights' own bytes, owned or in place (no padding)
    weight_arena kv_arena_;                       // the K/V chunks' memory (huge pages)
    // Where block b lives: block `index` of a chunk of n blocks (cpu_backend.cpp, kv_grow).
    struct kv_block_home {
        char* chunk;
        int64_t index, n;
    };
    std::vector<kv_block_home> kv_blocks_;        // by block id
    std::vector<std::vector<float>> scratch_;     // by slot
    std::vector<block_q8_act> qa_[2];             // quantized activations (rows, nb)
    std::vector<float> packed_;                   // activations packed for the float kernels
    std::vector<uint16_t> packed_bf16_;           // and for the tile-pair ones
    std::vector<float> cos_, sin_;                // (T, head_dim/2) RoPE of this step
    std::vector<double> inv_freq_;                // (head_dim/2)
    std::vector<char> kv_fresh_;                  // (2, T, KV) rows: this step's k/v as the cache stores them
    struct attn_item {
        int t, g;                 // token, KV head
        int64_t j_begin, j_end;   // the block of keys it reads
    };
    std::vector<attn_item> attn_items_;           // by token, then block, then KV head
    std::vector<float> attn_out_;                 // (items, group, head_dim) unnormalized outputs
    std::vector<float> attn_stat_;                // (items, group, 2) their score max and Σ exp
    std::vector<int> attn_first_;                 // (T + 1) first item of each token
    std::vector<int> attn_order_;                 // the items in the order threads take them
    std::vector<int> attn_groups_;                // runs of attn_order_ one kernel call takes
    std::vector<float> moe_h_, moe_up_;           // (entries, inter_local)
    std::vector<float> moe_y_;                    // (entries, hidden)
    // The work items of a matmul or moe region (panel_groups.h); the two take turns with it:
    // neither calls the other.
    panel_groups panel_items_;
    std::vector<int32_t> route_choice_;           // (T, k)
    std::vector<float> route_weight_;             // (T, k)
};

// Inline: attention looks up a cached row's address once per KV_BLOCK_SLOTS rows, and a call
// to another file goes through the PLT (gathering rows with the call: 1.6% of a 4,096-token
// decode profile; inline: 1.3%).
inline void* cpu_backend::kv_at(const kv_seq* seq, int layer, int head, int64_t slot, bool value) const {
    const backend_shape& s = cfg_.shape;
    const kv_block_home& home = kv_blocks_[seq->block_table[slot / KV_BLOCK_SLOTS]];
    const int64_t plane = ((int64_t)(value ? s.n_layers : 0) + layer) * s.n_kv_heads + head;
    const int64_t row = (plane * home.n + home.index) * KV_BLOCK_SLOTS + slot % KV_BLOCK_SLOTS;
    return home.chunk + row * kv_row_bytes();
}

// The CPU backend with the kernel table cfg.isa names (or the best). null + *err if unavailable.
backend* cpu_backend_create(const backend_config& cfg, std::string* err);
