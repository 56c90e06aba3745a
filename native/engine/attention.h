// Causal self-attention with an optional sliding window, over a rolling / paged K/V cache.
#pragma once
#include <cstdint>

#include "kv_cache.h"
#include "thread_pool.h"

// The window rule, defined once: a query at position p_q sees keys p_k with
// p_q − W < p_k ≤ p_q — W keys, itself included (W = 0: every p_k ≤ p_q).
// So its first visible key is p_q − W + 1.   p_q 9, W 4 → keys 6, 7, 8, 9
inline int64_t swa_first_visible(int64_t p_q, int window) {
    return window && p_q - window + 1 > 0 ? p_q - window + 1 : 0;
}

// One sequence's share of a batched step: tokens [tok_offset, tok_offset + n_tok) of the
// step's token arrays, at positions [seq->n_past, seq->n_past + n_tok).
struct attn_chunk {
    kv_seq* seq;
    int tok_offset;
    int n_tok;
};

struct attn_shape {
    int n_heads, n_kv_heads, head_dim;
};

// out (T, n_heads·head_dim) for every token of every chunk. q (T, n_heads·D) and the
// chunk's fresh k/v (T, n_kv_heads·D) are RoPE'd already. Each query attends to the cached
// keys before its chunk and to the chunk's own keys, under the window rule; the cache is
// read, not written. Returns false if a cache slot does not hold the position it should.
bool attention_forward(thread_pool* pool, const kv_pool* kv, int layer, const attn_chunk* chunks, int n_chunks,
                       const attn_shape& shape, const float* q, const float* k_new, const float* v_new, float* out);

// After attention: stores the chunk's keys/values that later queries can still see — its last
// min(n, W) tokens (all of them without a window). Writing before attention would overwrite
// ring slots that the chunk's own early queries still need.
void attention_cache_write(kv_pool* kv, int layer, const attn_chunk& chunk, const float* k_new, const float* v_new);

// Records the positions now held by the slots written above (once per step, after all layers).
void attention_cache_commit(const attn_chunk& chunk);
