// Causal self-attention with an optional sliding window over the rolling / paged K/V cache
// (kv_cache.h), for this shard's heads. Work items are (token, head) pairs across the batch.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "cpu_backend.h"

bool cpu_backend::attention(float* out, int layer, const float* q, const float* k_new, const float* v_new,
                            const step_batch& b) {
    const int H = cfg_.shape.n_heads, KV = cfg_.shape.n_kv_heads, D = cfg_.shape.head_dim, kv_dim = KV * D;
    const int group = H / KV;  // query head h reads kv head h / group
    const float scale = 1.0f / std::sqrt((float)D);
    const bool f16 = cfg_.kv_dtype == KV_F16;
    const int T = b.n_tokens;
    if (f16) {
        // The chunk's own keys and values, rounded as the cache will hold them, so a token sees
        // the same numbers whether its keys come from this chunk or from the cache later.
        kv_round_.resize((size_t)2 * T * kv_dim);
        for (size_t i = 0; i < (size_t)T * kv_dim; i++) {
            kv_round_[i] = f16_to_f32(f32_to_f16(k_new[i]));
            kv_round_[(size_t)T * kv_dim + i] = f16_to_f32(f32_to_f16(v_new[i]));
        }
        k_new = kv_round_.data();
        v_new = kv_round_.data() + (size_t)T * kv_dim;
    }
    std::atomic<bool> cache_ok{true};
    const cpu_kernels* k = k_;

    thread_pool_for(pool_, T * H, std::max(1, H / 2), [&](int begin, int end, int) {
        thread_local std::vector<float> scores;
        for (int item = begin; item < end; item++) {
            const int t = item / H, h = item % H, kvh = h / group;
            const step_chunk& c = b.chunks[b.token_chunk[t]];
            const kv_seq* seq = c.seq;
            const int64_t start = seq->n_past, p_q = b.positions[t];
            const int64_t j0 = swa_first_visible(p_q, seq->window);
            const int64_t n_keys = p_q - j0 + 1;
            if ((int64_t)scores.size() < n_keys) scores.resize(n_keys);
            const float* qh = q + ((int64_t)t * H + h) * D;
            // Key or value j: from this chunk (f32) or from the cache (f32 or f16).
            auto fresh = [&](int64_t j, const float* base) {
                return base + (int64_t)(c.tok_offset + (j - start)) * kv_dim + (int64_t)kvh * D;
            };
            auto cached = [&](int64_t j, bool value) -> const char* {
                const int64_t slot = kv_slot(seq, j);
                if (seq->slot_pos[slot] != j) cache_ok.store(false, std::memory_order_relaxed);
                return (const char*)kv_at(seq, layer, slot, value) + (int64_t)kvh * D * (f16 ? 2 : 4);
            };

            float max_score = -INFINITY;
            for (int64_t j = j0; j <= p_q; j++) {
                float s;
                if (j >= start) s = k->dot(qh, fresh(j, k_new), D);
                else if (f16) s = k->dot_f16(qh, (const uint16_t*)cached(j, false), D);
                else s = k->dot(qh, (const float*)cached(j, false), D);
                s *= scale;
                scores[j - j0] = s;
                max_score = std::max(max_score, s);
            }
            double sum = 0;
            for (int64_t n = 0; n < n_keys; n++) {
                scores[n] = std::exp(scores[n] - max_score);
                sum += scores[n];
            }
            float* oh = out + ((int64_t)t * H + h) * D;
            std::memset(oh, 0, sizeof(float) * D);
            const float inv_sum = (float)(1.0 / sum);
            for (int64_t j = j0; j <= p_q; j++) {
                const float wgt = scores[j - j0] * inv_sum;
                if (j >= start) k->axpy(oh, wgt, fresh(j, v_new), D);
                else if (f16) k->axpy_f16(oh, wgt, (const uint16_t*)cached(j, true), D);
                else k->axpy(oh, wgt, (const float*)cached(j, true), D);
            }
        }
    });
    return cache_ok.load();
}

void cpu_backend::kv_write(int layer, const float* k_new, const float* v_new, const step_batch& b) {
    const int kv_dim = cfg_.shape.n_kv_heads * cfg_.shape.head_dim;
    const bool f16 = cfg_.kv_dtype == KV_F16;
    for (const step_chunk& c : b.chunks) {
        const int64_t start = c.seq->n_past, end = start + c.n_tok;
        for (int64_t p = kv_first_cached(c.seq, c.n_tok); p < end; p++) {
            const int64_t row = c.tok_offset + (p - start), slot = kv_slot(c.seq, p);
            const float* kr = k_new + row * kv_dim;
            const float* vr = v_new + row * kv_dim;
            void* kd = kv_at(c.seq, layer, slot, false);
            void* vd = kv_at(c.seq, layer, slot, true);
            if (!f16) {
                std::memcpy(kd, kr, sizeof(float) * kv_dim);
                std::memcpy(vd, vr, sizeof(float) * kv_dim);
                continue;
            }
            for (int i = 0; i < kv_dim; i++) {
                ((uint16_t*)kd)[i] = f32_to_f16(kr[i]);
                ((uint16_t*)vd)[i] = f32_to_f16(vr[i]);
            }
        }
    }
}
