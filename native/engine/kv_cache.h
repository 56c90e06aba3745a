// Per-sequence K/V cache backed by a shared pool of fixed-size blocks (as vLLM's paged
// attention). A sequence owns a block table; its slots map to (block, offset).
//  - sliding window W: a ring of exactly W slots, position p lives in slot p mod W;
//  - no window (full attention): slot p holds position p and the table grows by blocks.
// Keys are stored after RoPE. Each slot remembers the absolute position it holds.
#pragma once
#include <cstdint>
#include <vector>

static const int KV_BLOCK_SLOTS = 16;

// One block holds KV_BLOCK_SLOTS slots of every layer:
//   k: (n_layers, KV_BLOCK_SLOTS, kv_dim) then v: (n_layers, KV_BLOCK_SLOTS, kv_dim)
struct kv_pool {
    int n_layers = 0;
    int kv_dim = 0;                 // n_kv_heads * head_dim
    int64_t max_blocks = 0;         // 0 = no limit
    std::vector<float*> blocks;     // every block ever allocated
    std::vector<int> free_blocks;   // indices into blocks
};

struct kv_seq {
    int window = 0;                 // W, 0 = full attention
    int64_t n_past = 0;             // positions [0, n_past) have been cached
    std::vector<int> block_table;   // slot s lives in blocks[block_table[s / KV_BLOCK_SLOTS]]
    std::vector<int64_t> slot_pos;  // absolute position held by each slot, -1 if empty
};

void kv_pool_init(kv_pool* pool, int n_layers, int kv_dim, int64_t max_blocks);
void kv_pool_free(kv_pool* pool);
int64_t kv_pool_blocks_in_use(const kv_pool* pool);

// pos 5, W 4 → slot 1;  pos 5, no window → slot 5
inline int64_t kv_slot(const kv_seq* seq, int64_t pos) { return seq->window ? pos % seq->window : pos; }

// Makes sure the slots for positions [n_past, n_past + n_new) exist. false when the pool is full.
bool kv_seq_reserve(kv_pool* pool, kv_seq* seq, int64_t n_new);

// Forgets positions ≥ n so the sequence continues from position n (a shared prefix is kept
// warm while a differing suffix is recomputed). Full attention only: in a ring, the slots of
// positions just below n may already hold later positions. Blocks past n return to the pool.
// false (nothing changed) for a ring unless n == n_past, or if n > n_past.
bool kv_seq_truncate(kv_pool* pool, kv_seq* seq, int64_t n);

// Returns every block to the pool; the sequence starts again at position 0.
void kv_seq_reset(kv_pool* pool, kv_seq* seq);

// (kv_dim) floats of layer `layer` at slot `slot`; the slot must be reserved.
inline float* kv_key(const kv_pool* pool, const kv_seq* seq, int layer, int64_t slot) {
    float* block = pool->blocks[seq->block_table[slot / KV_BLOCK_SLOTS]];
    return block + ((int64_t)layer * KV_BLOCK_SLOTS + slot % KV_BLOCK_SLOTS) * pool->kv_dim;
}
inline float* kv_value(const kv_pool* pool, const kv_seq* seq, int layer, int64_t slot) {
    return kv_key(pool, seq, layer, slot) + (int64_t)pool->n_layers * KV_BLOCK_SLOTS * pool->kv_dim;
}
