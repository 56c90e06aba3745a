// Causal self-attention with an optional sliding window over the rolling / paged K/V cache
// (kv_cache.h), for this shard's heads: a block of keys is read once for all the query heads
// that share its KV head, and long contexts split into blocks across the threads.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "cpu_backend.h"

static const int KEY_BLOCK = 512;  // keys per work item

// Reads one byte of each cache line of n keys' and values' rows, so kernels that do not fetch
// ahead themselves (cpu_kernels.attn_prefetches) find them in cache. A work item's cached rows
// lie in runs (a chunk's plane, cpu_backend.cpp) spread over the pool, and the kernels' own
// loads, queued behind their arithmetic, keep too few misses in flight: measured on one
// thread, 4,096 f16 keys × 16 layers × 4 KV heads of 128, the value pass took 10 ms cold and
// 1.5 ms after this loop. It reads 4 runs at once (both halves of the keys and of the values),
// as memory serves 4 streams faster than 1 (panel_layout.h).
static void touch_rows(const void* const* keys, const void* const* values, int n, int row_bytes) {
    unsigned char sink = 0;
    const int h = (n + 1) / 2;
    auto touch = [&](const void* row) {
        for (int b = 0; b < row_bytes; b += 64) sink ^= *((const volatile unsigned char*)row + b);
    };
    for (int j = 0; j < h; j++) {
        touch(keys[j]);
        touch(values[j]);
        if (j + h < n) {
            touch(keys[j + h]);
            touch(values[j + h]);
        }
    }
    (void)sink;
}

// out = x rounded to f16 and back, 256 at a time through a buffer on the stack.
static void round_through_f16(const cpu_kernels* k, const float* x, float* out, size_t n) {
    uint16_t h[256];
    for (size_t i = 0; i < n; i += 256) {
        const int64_t m = (int64_t)std::min<size_t>(256, n - i);
        k->to_f16(x + i, h, m);
        k->from_f16(h, out + i, m);
    }
}

// A run of consecutive slots at a time, up to a block's end or the window's: one lookup a run.
bool cpu_backend::cached_rows(const kv_seq* seq, int layer, int g, int64_t j0, int n, const void** keys,
                              const void** values) const {
    const int64_t row_bytes = kv_row_bytes();
    bool ok = true;
    int64_t slot = kv_slot(seq, j0);
    for (int at = 0; at < n;) {
        if (seq->window && slot == seq->window) slot = 0;
        int64_t run = std::min<int64_t>(KV_BLOCK_SLOTS - slot % KV_BLOCK_SLOTS, n - at);
        if (seq->window) run = std::min<int64_t>(run, seq->window - slot);
        const int64_t* pos = seq->slot_pos.data() + slot;
        for (int64_t i = 0; i < run; i++) ok &= pos[i] == j0 + at + i;
        const char* k = (const char*)kv_at(seq, layer, g, slot, false);
        const char* v = (const char*)kv_at(seq, layer, g, slot, true);
        for (int64_t i = 0, off = 0; i < run; i++, off += row_bytes) keys[at + i] = k + off, values[at + i] = v + off;
        at += (int)run;
        slot += run;
    }
    return ok;
}

bool cpu_backend::attention(float* out, int layer, const float* q, const float* k_new, const float* v_new,
                            const step_batch& b) {
    const int H = cfg_.shape.n_heads, KV = cfg_.shape.n_kv_heads, D = cfg_.shape.head_dim, kv_dim = KV * D;
    const int group = H / KV;  // query head h reads kv head h / group
    const float scale = 1.0f / std::sqrt((float)D);
    const bool f16 = cfg_.kv_dtype == KV_F16;
    const int T = b.n_tokens;
    const int64_t row_bytes = kv_row_bytes();
    if (f16) {
        // The chunk's own keys and values, rounded as the cache will hold them, so a token sees
        // the same numbers whether its keys come from this chunk or from the cache later.
        kv_round_.resize((size_t)2 * T * kv_dim);
        const cpu_kernels* k = k_;
        thread_pool_for(pool_, T, thread_pool_grain(pool_, T, 4), [&](int begin, int end, int) {
            const size_t at = (size_t)begin * kv_dim, n = (size_t)(end - begin) * kv_dim;
            round_through_f16(k, k_new + at, &kv_round_[at], n);
            round_through_f16(k, v_new + at, &kv_round_[(size_t)T * kv_dim + at], n);
        });
        k_new = kv_round_.data();
        v_new = kv_round_.data() + (size_t)T * kv_dim;
    }
    std::atomic<bool> cache_ok{true};
    const cpu_kernels* k = k_;

    // Work items: (token, block of KEY_BLOCK visible keys, KV head); consecutive items read
    // neighbouring runs of the K/V blocks. Blocks split the range [j0, p_q] the same way
    // whatever the batch, and partial results are combined in block order, so a token's
    // output depends on its own keys alone (batch invariance).
    attn_items_.clear();
    attn_first_.resize(T + 1);
    for (int t = 0; t < T; t++) {
        attn_first_[t] = (int)attn_items_.size();
        const kv_seq* seq = b.chunks[b.token_chunk[t]].seq;
        const int64_t p_q = b.positions[t], j0 = swa_first_visible(p_q, seq->window);
        for (int64_t jb = j0; jb <= p_q; jb += KEY_BLOCK)
            for (int g = 0; g < KV; g++) attn_items_.push_back({t, g, jb, std::min(p_q + 1, jb + KEY_BLOCK)});
    }
    const int n_items = (int)attn_items_.size();
    attn_first_[T] = n_items;
    attn_out_.resize((size_t)n_items * group * D);  // each item zeroes its own
    attn_stat_.resize((size_t)n_items * group * 2);
    thread_pool_for(pool_, n_items, thread_pool_grain(pool_, n_items, 8), [&](int begin, int end, int) {
        thread_local std::vector<float> scores;
        thread_local std::vector<const void*> keys, values;
        scores.resize((size_t)group * KEY_BLOCK);
        keys.resize(KEY_BLOCK);
        values.resize(KEY_BLOCK);
        for (int i = begin; i < end; i++) {
            const attn_item& it = attn_items_[i];
            const step_chunk& c = b.chunks[b.token_chunk[it.t]];
            const kv_seq* seq = c.seq;
            // Keys before `start` come from the cache (f32 or f16), the rest from this chunk (f32).
            const int64_t start = seq->n_past, n = it.j_end - it.j_begin;
            const int n_cached = (int)std::clamp<int64_t>(start - it.j_begin, 0, n);
            const void** kp = keys.data();  // (thread_local: looked up once, not per row)
            const void** vp = values.data();
            if (!cached_rows(seq, layer, it.g, it.j_begin, n_cached, kp, vp)) cache_ok.store(false, std::memory_order_relaxed);
            if (!k->attn_prefetches) touch_rows(kp, vp, n_cached, (int)row_bytes);
            for (int at = n_cached; at < n; at++) {
                const int64_t row = (c.tok_offset + (it.j_begin + at - start)) * kv_dim + (int64_t)it.g * D;
                kp[at] = k_new + row;
                vp[at] = v_new + row;
            }
            const float* q0 = q + ((int64_t)it.t * H + it.g * group) * D;  // the group's query heads
            float* sc = scores.data();
            const attn_rows cached{kp, vp, n_cached, f16};
            const attn_rows fresh{kp + n_cached, vp + n_cached, (int)n - n_cached, false};
            k->attn_scores(sc, KEY_BLOCK, q0, group, D, cached, scale);
            k->attn_scores(sc + n_cached, KEY_BLOCK, q0, group, D, fresh, scale);
            float* stat = &attn_stat_[(size_t)i * group * 2];
            for (int r = 0; r < group; r++)  // (max, Σ exp) of each query head's scores
                stat[2 * r + 1] = k->softmax_exp(sc + r * KEY_BLOCK, (int)n, &stat[2 * r]);
            float* o = &attn_out_[(size_t)i * group * D];
            std::memset(o, 0, sizeof(float) * group * D);
            k->attn_values(o, sc, KEY_BLOCK, group, D, cached);
            k->attn_values(o, sc + n_cached, KEY_BLOCK, group, D, fresh);
        }
    });

    // Each (token, query head): its blocks' partials rescaled to the largest max, in order. A
    // token's heads to a chunk, so a decode step's few microseconds of it stay on this thread.
    const std::vector<int>& first = attn_first_;
    thread_pool_for(pool_, T * H, H, [&](int begin, int end, int) {
        for (int th = begin; th < end; th++) {
            const int t = th / H, h = th % H, g = h / group, r = h % group;
            const int i0 = first[t] + g, i_end = first[t + 1];  // this KV head's blocks: every KV-th item
            float m = -INFINITY;
            for (int i = i0; i < i_end; i += KV) m = std::max(m, attn_stat_[((size_t)i * group + r) * 2]);
            float* oh = out + ((int64_t)t * H + h) * D;
            std::memset(oh, 0, sizeof(float) * D);
            double sum = 0;
            for (int i = i0; i < i_end; i += KV) {
                const float* st = &attn_stat_[((size_t)i * group + r) * 2];
                const float f = std::exp(st[0] - m);
                sum += (double)f * st[1];
                k->axpy(oh, f, &attn_out_[((size_t)i * group + r) * D], D);
            }
            const float inv = (float)(1.0 / sum);
            for (int d = 0; d < D; d++) oh[d] *= inv;
        }
    });
    return cache_ok.load();
}

void cpu_backend::kv_write(int layer, const float* k_new, const float* v_new, const step_batch& b) {
    const int KV = cfg_.shape.n_kv_heads, D = cfg_.shape.head_dim, kv_dim = KV * D;
    const bool f16 = cfg_.kv_dtype == KV_F16;
    for (const step_chunk& c : b.chunks) {
        const int64_t start = c.seq->n_past, first = kv_first_cached(c.seq, c.n_tok);
        const int n = (int)(start + c.n_tok - first);
        // The positions written go to distinct slots: in parallel.
        thread_pool_for(pool_, n, thread_pool_grain(pool_, n, 4), [&](int begin, int end, int) {
            for (int64_t p = first + begin; p < first + end; p++) {
                const int64_t row = c.tok_offset + (p - start), slot = kv_slot(c.seq, p);
                for (int g = 0; g < KV; g++) {
                    const float* kr = k_new + row * kv_dim + g * D;
                    const float* vr = v_new + row * kv_dim + g * D;
                    void* kd = kv_at(c.seq, layer, g, slot, false);
                    void* vd = kv_at(c.seq, layer, g, slot, true);
                    if (!f16) {
                        std::memcpy(kd, kr, sizeof(float) * D);
                        std::memcpy(vd, vr, sizeof(float) * D);
                        continue;
                    }
                    k_->to_f16(kr, (uint16_t*)kd, D);
                    k_->to_f16(vr, (uint16_t*)vd, D);
                }
            }
        });
    }
}
