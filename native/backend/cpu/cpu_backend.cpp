// The CPU backend's memory and its element-wise ops; matmul, attention and MoE live in
// cpu_matmul.cpp, cpu_attention.cpp and cpu_moe.cpp.
#include "cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

cpu_backend::cpu_backend(const backend_config& cfg, const cpu_kernels* k)
    : cfg_(cfg), k_(k), pool_(thread_pool_init(cfg.n_threads)) {
    // inv_freq[k] = theta^(-2k/D), in double: angles at position 30k must stay exact enough.
    const int D = cfg.shape.head_dim;
    for (int f = 0; f < D / 2; f++) inv_freq_.push_back(std::pow(cfg.shape.rope_theta, -2.0 * f / D));
}

cpu_backend::~cpu_backend() {
    weight_arena_free(&kv_arena_);
    thread_pool_free(pool_);
    weight_arena_free(&arena_);
}

backend* cpu_backend_create(const backend_config& cfg, std::string* err) {
    const cpu_kernels* k = cpu_kernels_select(cfg.isa, err);
    return k ? new cpu_backend(cfg, k) : nullptr;
}

// Matrices are packed in panels (panel_layout.h), so they are always copied; tables and
// vectors are used in place when the host bytes allow it.
bool cpu_backend::load_weight(const host_tensor& src, weight_use use, bool may_alias, tensor* out, std::string* err) {
    const uint64_t rb = row_bytes(src.dtype, src.cols);
    *out = tensor{nullptr, src.dtype, src.rows, src.cols};
    const bool packed = use == WEIGHT_MATRIX;
    if (!packed && may_alias && src.src_row_stride == rb) {  // the host bytes are already this layout
        out->data = src.data;
        weight_bytes_ += rb * src.rows;
        return true;
    }
    const bool tile_pairs = packed && tile_pairs_for(src.dtype, src.rows);
    const uint64_t bytes = tile_pairs ? bf16_tile_pairs_bytes(src.rows, src.cols)
                           : packed   ? panel_bytes(src.dtype, src.rows, src.cols)
                                      : rb * src.rows;
    char* dst = (char*)weight_arena_alloc(&arena_, (size_t)bytes);
    if (!dst) {
        *err = "out of memory for weights";
        return false;
    }
    if (tile_pairs) panel_pack_bf16_tile_pairs(src, dst);
    else if (packed) panel_pack(src, dst);
    else
        for (int64_t r = 0; r < src.rows; r++) std::memcpy(dst + r * rb, (const char*)src.data + r * src.src_row_stride, rb);
    out->data = dst;
    weight_bytes_ += rb * src.rows;
    return true;
}

uint64_t cpu_backend::kv_block_bytes() const {
    const backend_shape& s = cfg_.shape;
    return 2 * (uint64_t)s.n_layers * KV_BLOCK_SLOTS * s.n_kv_heads * kv_row_bytes();
}

// K/V memory comes in chunks of blocks, from huge-page regions. A chunk of n blocks stores each
// (K or V, layer, KV head) — a plane — as its n blocks' KV_BLOCK_SLOTS rows back to back:
//   chunk (2, n_layers, n_kv_heads, n, SLOTS, head_dim)
// so one attention work item (a layer, a KV head, up to 512 consecutive slots) reads a few long
// runs instead of a 4 KiB run per block: the hardware prefetcher follows them and the TLB
// holds them (one thread, 4,096 f16 keys: 25–35% less time than blocks of their own). A chunk
// is KV_CHUNK_BLOCKS blocks, or what the step needs when more, never past kv_max_blocks.
static const int64_t KV_CHUNK_BLOCKS = 32;

bool cpu_backend::kv_grow(int64_t n_blocks) {
    const int64_t have = (int64_t)kv_blocks_.size(), need = n_blocks - have;
    if (need <= 0) return true;
    int64_t n = std::max(need, KV_CHUNK_BLOCKS);
    if (cfg_.kv_max_blocks > 0) n = std::clamp(cfg_.kv_max_blocks - have, need, n);
    char* chunk = (char*)weight_arena_alloc(&kv_arena_, (size_t)(n * kv_block_bytes()));
    if (!chunk) return false;
    for (int64_t i = 0; i < n; i++) kv_blocks_.push_back({chunk, i, n});
    return true;
}

float* cpu_backend::scratch(int slot, size_t n) {
    if ((int)scratch_.size() <= slot) scratch_.resize(slot + 1);
    if (scratch_[slot].size() < n) scratch_[slot].resize(n);
    return scratch_[slot].data();
}

void cpu_backend::begin_step(const step_batch& b) {
    const int half = cfg_.shape.head_dim / 2;
    cos_.resize((size_t)b.n_tokens * half);
    sin_.resize((size_t)b.n_tokens * half);
    for (int t = 0; t < b.n_tokens; t++)
        for (int f = 0; f < half; f++) {
            const double angle = (double)b.positions[t] * inv_freq_[f];
            cos_[(size_t)t * half + f] = (float)std::cos(angle);
            sin_[(size_t)t * half + f] = (float)std::sin(angle);
        }
}

void cpu_backend::embed(float* x, const tensor& table, int64_t first_row, const step_batch& b) {
    const int64_t hidden = table.cols;
    for (int t = 0; t < b.n_tokens; t++) {
        const int64_t row = b.tokens[t] - first_row;
        float* xt = x + t * hidden;
        if (row < 0 || row >= table.rows) std::memset(xt, 0, sizeof(float) * hidden);
        else if (dtype_is_quant(table.dtype)) tensor_row_to_f32(table, row, xt);
        else k_->widen_row(table, row, xt);
    }
}

// Element-wise ops run on the pool too, in spans of whole rows or ELEMENT_SPAN elements: a
// long prefill spends several percent in them, and serial they would leave a core idle.
// Each element's arithmetic is the same whatever span it falls in.
static const size_t ELEMENT_SPAN = 16384;

// Σ x[j]² in double, in 8 lanes (j mod 8) added at the end: one chain of n dependent adds
// was most of a decode step's rmsnorm time (33 norms a step, ~3 µs each at n = 2048).
static double sum_squares(const float* x, int n) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) lane[l] += (double)x[j + l] * x[j + l];
    for (; j < n; j++) lane[0] += (double)x[j] * x[j];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

void cpu_backend::rmsnorm(float* y, const float* x, const int32_t* rows, int n_rows, const tensor& w, float eps) {
    const int n = (int)w.cols;
    const float* wv = (const float*)w.data;
    thread_pool_for(pool_, n_rows, thread_pool_grain(pool_, n_rows, 4), [&](int begin, int end, int) {
        for (int i = begin; i < end; i++) {
            const float* xi = x + (int64_t)(rows ? rows[i] : i) * n;
            float* yi = y + (int64_t)i * n;
            const float scale = (float)(1.0 / std::sqrt(sum_squares(xi, n) / n + eps));
            for (int j = 0; j < n; j++) yi[j] = xi[j] * scale * wv[j];
        }
    });
}

// fn(begin, end) over [0, n) in spans, on the pool.
template <typename F>
static void for_spans(thread_pool* pool, size_t n, F fn) {
    const int spans = (int)((n + ELEMENT_SPAN - 1) / ELEMENT_SPAN);
    thread_pool_for(pool, spans, thread_pool_grain(pool, spans, 4), [&](int begin, int end, int) {
        fn((size_t)begin * ELEMENT_SPAN, std::min(n, (size_t)end * ELEMENT_SPAN));
    });
}

// Rotates pair k of every head by pos · inv_freq[k]. The pair is (x[k], x[k + D/2]) in the
// HF rotate_half layout, (x[2k], x[2k+1]) in the interleaved one.   D 8: pair 1 = (1, 5) or (2, 3)
void cpu_backend::rope(float* x, int n_heads, const step_batch& b) {
    const int D = cfg_.shape.head_dim, half = D / 2;
    const int first_step = cfg_.shape.rope_interleaved ? 2 : 1, second = cfg_.shape.rope_interleaved ? 1 : half;
    const int T = b.n_tokens;
    thread_pool_for(pool_, T, thread_pool_grain(pool_, T, 4), [&](int begin, int end, int) {
        for (int t = begin; t < end; t++) {
            const float* c = &cos_[(size_t)t * half];
            const float* s = &sin_[(size_t)t * half];
            for (int h = 0; h < n_heads; h++) {
                float* v = x + ((int64_t)t * n_heads + h) * D;
                for (int f = 0; f < half; f++) {
                    float* p = v + f * first_step;
                    const float a = p[0], bb = p[second];
                    p[0] = a * c[f] - bb * s[f];
                    p[second] = bb * c[f] + a * s[f];
                }
            }
        }
    });
}

void cpu_backend::swiglu(float* gate, const float* up, size_t n) {
    const cpu_kernels* k = k_;
    for_spans(pool_, n, [&](size_t begin, size_t end) { k->silu_mul(gate + begin, up + begin, (int64_t)(end - begin)); });
}

void cpu_backend::add(float* x, const float* y, size_t n) {
    for_spans(pool_, n, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; i++) x[i] += y[i];
    });
}

// One item at a time: a draw is ~0.1–0.3 ms, and the shrinking chunks let a worker that comes
// late (asleep after a step) take what is left.
void cpu_backend::host_for(int n, const std::function<void(int i)>& fn) {
    thread_pool_for(pool_, n, 1, [&](int begin, int end, int) {
        for (int i = begin; i < end; i++) fn(i);
    });
}
