// The K/V cache manager: everything about cached positions that all shards share — block
// tables, which position each slot holds, sequence lengths, sequence ids. It holds no keys or
// values: each shard's backend stores its own KV heads' blocks (backend.h, kv_* ops), so a
// block id means the same slots on every shard.
//  - sliding window W: a ring of exactly W slots, position p lives in slot p mod W;
//  - no window (full attention): slot p holds position p and the table grows by blocks
//    taken from a shared pool (as vLLM's paged attention).
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

static const int KV_BLOCK_SLOTS = 16;

struct kv_seq {
    bool live = false;
    int window = 0;                 // W, 0 = full attention
    int64_t n_past = 0;             // positions [0, n_past) are cached
    std::vector<int> block_table;   // slot s lives in block block_table[s / KV_BLOCK_SLOTS]
    std::vector<int64_t> slot_pos;  // absolute position held by each slot, -1 if empty
};

struct kv_cache {
    int64_t max_blocks = 0;               // 0 = no limit
    int64_t n_blocks = 0;                 // block ids [0, n_blocks) have been handed out once
    std::vector<int> free_blocks;
    std::atomic<int64_t> blocks_in_use{0};  // read by info() while a step runs
    std::vector<kv_seq> seqs;             // by id
    std::vector<int> free_ids;            // ids of freed sequences, reused before new ones
};

void kv_cache_init(kv_cache* kv, int64_t max_blocks);

// A new empty sequence; a freed id is reused first.
int kv_seq_create(kv_cache* kv, int window);
kv_seq* kv_seq_get(kv_cache* kv, int id);  // null if no live sequence has this id
bool kv_seq_free(kv_cache* kv, int id);

// pos 5, W 4 → slot 1;  pos 5, no window → slot 5
inline int64_t kv_slot(const kv_seq* seq, int64_t pos) { return seq->window ? pos % seq->window : pos; }

// Makes sure the slots for positions [n_past, n_past + n_new) have blocks. false when the pool
// is at max_blocks (blocks taken so far stay in the table, to be used by a later step).
bool kv_seq_reserve(kv_cache* kv, kv_seq* seq, int64_t n_new);

// Forgets positions ≥ n so the sequence continues from position n (a shared prefix is kept
// warm while a differing suffix is recomputed; a decode step run ahead is taken back). Full
// attention: blocks past n return to the pool. A ring: only where kv_ring_can_truncate says.
// false (nothing changed) where it cannot, or if n > n_past.
bool kv_seq_truncate(kv_cache* kv, kv_seq* seq, int64_t n);

// Whether a ring can go back to position n: writing positions [n, n_past) overwrote positions
// [n − W, n_past − W), and a query at n or later still sees n − W + 1 onwards. So nothing it
// needs is gone if the ring never wrapped (n_past ≤ W) or if one position goes (only n − W,
// which no later query sees, was overwritten).   W 4: n_past 9 → 8 yes, 9 → 7 no, 4 → 1 yes
inline bool kv_ring_can_truncate(const kv_seq* seq, int64_t n) {
    return seq->n_past <= seq->window || seq->n_past - n <= 1;
}

// Returns every block to the pool; the sequence starts again at position 0.
void kv_seq_reset(kv_cache* kv, kv_seq* seq);

// The window rule, defined once: a query at position p_q sees keys p_k with
// p_q − W < p_k ≤ p_q — W keys, itself included (W = 0: every p_k ≤ p_q).
// So its first visible key is p_q − W + 1.   p_q 9, W 4 → keys 6, 7, 8, 9
inline int64_t swa_first_visible(int64_t p_q, int window) {
    return window && p_q - window + 1 > 0 ? p_q - window + 1 : 0;
}

// The first position of a chunk at [n_past, n_past + n) that is written to the cache: its
// last min(n, W) tokens (all of them without a window). Earlier ones would be overwritten
// within the chunk anyway.   n_past 3, n 10, W 4 → 9
inline int64_t kv_first_cached(const kv_seq* seq, int64_t n) {
    const int64_t end = seq->n_past + n;
    return seq->window && end - seq->window > seq->n_past ? end - seq->window : seq->n_past;
}
