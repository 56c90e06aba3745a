#include "attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"

// First position of a chunk that is written to the cache: the last W of the chunk.
static int64_t first_cached(const attn_chunk& c) {
    const int64_t end = c.seq->n_past + c.n_tok;
    return c.seq->window ? std::max(c.seq->n_past, end - c.seq->window) : c.seq->n_past;
}

bool attention_forward(thread_pool* pool, const kv_pool* kv, int layer, const attn_chunk* chunks, int n_chunks,
                       const attn_shape& shape, const float* q, const float* k_new, const float* v_new, float* out) {
    const int H = shape.n_heads, D = shape.head_dim, kv_dim = shape.n_kv_heads * D;
    const int group = H / shape.n_kv_heads;  // query head h reads kv head h / group
    const float scale = 1.0f / std::sqrt((float)D);

    // Work items are (token, head) pairs across the whole batch.
    std::vector<int> token_chunk;
    for (int c = 0; c < n_chunks; c++) token_chunk.insert(token_chunk.end(), chunks[c].n_tok, c);
    const int T = (int)token_chunk.size();
    std::atomic<bool> cache_ok{true};

    thread_pool_for(pool, T * H, std::max(1, H / 2), [&](int begin, int end, int) {
        thread_local std::vector<float> scores;
        for (int item = begin; item < end; item++) {
            const int t = item / H, h = item % H, kvh = h / group;
            const attn_chunk& c = chunks[token_chunk[t]];
            const kv_seq* seq = c.seq;
            const int64_t start = seq->n_past;
            const int64_t p_q = start + (t - c.tok_offset);
            const int64_t j0 = swa_first_visible(p_q, seq->window);
            const int64_t n_keys = p_q - j0 + 1;
            if ((int64_t)scores.size() < n_keys) scores.resize(n_keys);

            const float* qh = q + (int64_t)t * H * D + (int64_t)h * D;
            auto key_at = [&](int64_t j, bool value) -> const float* {
                if (j >= start) {  // this chunk's own token
                    const int64_t row = c.tok_offset + (j - start);
                    return (value ? v_new : k_new) + row * kv_dim + (int64_t)kvh * D;
                }
                const int64_t slot = kv_slot(seq, j);
                if (seq->slot_pos[slot] != j) cache_ok.store(false, std::memory_order_relaxed);
                const float* base = value ? kv_value(kv, seq, layer, slot) : kv_key(kv, seq, layer, slot);
                return base + (int64_t)kvh * D;
            };

            float max_score = -INFINITY;
            for (int64_t j = j0; j <= p_q; j++) {
                float s = dot_f32(qh, key_at(j, false), D) * scale;
                scores[j - j0] = s;
                max_score = std::max(max_score, s);
            }
            double sum = 0;
            for (int64_t n = 0; n < n_keys; n++) {
                scores[n] = std::exp(scores[n] - max_score);
                sum += scores[n];
            }
            float* oh = out + (int64_t)t * H * D + (int64_t)h * D;
            std::memset(oh, 0, sizeof(float) * D);
            const float inv_sum = (float)(1.0 / sum);
            for (int64_t j = j0; j <= p_q; j++) axpy_f32(oh, scores[j - j0] * inv_sum, key_at(j, true), D);
        }
    });
    return cache_ok.load();
}

void attention_cache_write(kv_pool* kv, int layer, const attn_chunk& c, const float* k_new, const float* v_new) {
    const int64_t start = c.seq->n_past, end = start + c.n_tok;
    const size_t bytes = sizeof(float) * kv->kv_dim;
    for (int64_t p = first_cached(c); p < end; p++) {
        const int64_t row = c.tok_offset + (p - start), slot = kv_slot(c.seq, p);
        std::memcpy(kv_key(kv, c.seq, layer, slot), k_new + row * kv->kv_dim, bytes);
        std::memcpy(kv_value(kv, c.seq, layer, slot), v_new + row * kv->kv_dim, bytes);
    }
}

void attention_cache_commit(const attn_chunk& c) {
    const int64_t end = c.seq->n_past + c.n_tok;
    for (int64_t p = first_cached(c); p < end; p++) c.seq->slot_pos[kv_slot(c.seq, p)] = p;
    c.seq->n_past = end;
}
