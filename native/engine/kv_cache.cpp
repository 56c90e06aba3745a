#include "kv_cache.h"

#include <algorithm>
#include <new>

void kv_pool_init(kv_pool* pool, int n_layers, int kv_dim, int64_t max_blocks) {
    pool->n_layers = n_layers;
    pool->kv_dim = kv_dim;
    pool->max_blocks = max_blocks;
}

void kv_pool_free(kv_pool* pool) {
    for (float* b : pool->blocks) delete[] b;
    pool->blocks.clear();
    pool->free_blocks.clear();
}

int64_t kv_pool_blocks_in_use(const kv_pool* pool) {
    return (int64_t)pool->blocks.size() - (int64_t)pool->free_blocks.size();
}

static int kv_pool_take(kv_pool* pool) {
    if (!pool->free_blocks.empty()) {
        int b = pool->free_blocks.back();
        pool->free_blocks.pop_back();
        return b;
    }
    if (pool->max_blocks && (int64_t)pool->blocks.size() >= pool->max_blocks) return -1;
    const int64_t floats = 2 * (int64_t)pool->n_layers * KV_BLOCK_SLOTS * pool->kv_dim;
    float* block = new (std::nothrow) float[floats];
    if (!block) return -1;
    pool->blocks.push_back(block);
    return (int)pool->blocks.size() - 1;
}

bool kv_seq_reserve(kv_pool* pool, kv_seq* seq, int64_t n_new) {
    const int64_t end = seq->n_past + n_new;
    // A ring never needs more than W slots, however long the sequence.
    const int64_t slots = seq->window ? std::min<int64_t>(end, seq->window) : end;
    const int64_t blocks_needed = (slots + KV_BLOCK_SLOTS - 1) / KV_BLOCK_SLOTS;
    while ((int64_t)seq->block_table.size() < blocks_needed) {
        int b = kv_pool_take(pool);
        if (b < 0) return false;
        seq->block_table.push_back(b);
    }
    if ((int64_t)seq->slot_pos.size() < slots) seq->slot_pos.resize(slots, -1);
    return true;
}

void kv_seq_reset(kv_pool* pool, kv_seq* seq) {
    for (int b : seq->block_table) pool->free_blocks.push_back(b);
    seq->block_table.clear();
    seq->slot_pos.clear();
    seq->n_past = 0;
}

bool kv_seq_truncate(kv_pool* pool, kv_seq* seq, int64_t n) {
    if (n < 0 || n > seq->n_past) return false;
    if (n == seq->n_past) return true;
    if (seq->window) return false;
    const int64_t blocks_kept = (n + KV_BLOCK_SLOTS - 1) / KV_BLOCK_SLOTS;
    while ((int64_t)seq->block_table.size() > blocks_kept) {
        pool->free_blocks.push_back(seq->block_table.back());
        seq->block_table.pop_back();
    }
    seq->slot_pos.resize(n);
    seq->n_past = n;
    return true;
}
