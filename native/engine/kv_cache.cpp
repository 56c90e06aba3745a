#include "kv_cache.h"

#include <algorithm>

void kv_cache_init(kv_cache* kv, int64_t max_blocks) { kv->max_blocks = max_blocks; }

int kv_seq_create(kv_cache* kv, int window) {
    int id;
    if (!kv->free_ids.empty()) {
        id = kv->free_ids.back();
        kv->free_ids.pop_back();
    } else {
        id = (int)kv->seqs.size();
        kv->seqs.emplace_back();
    }
    kv_seq& s = kv->seqs[id];
    s = kv_seq();
    s.live = true;
    s.window = window;
    return id;
}

kv_seq* kv_seq_get(kv_cache* kv, int id) {
    return id >= 0 && id < (int)kv->seqs.size() && kv->seqs[id].live ? &kv->seqs[id] : nullptr;
}

bool kv_seq_free(kv_cache* kv, int id) {
    kv_seq* s = kv_seq_get(kv, id);
    if (!s) return false;
    kv_seq_reset(kv, s);
    s->live = false;
    kv->free_ids.push_back(id);
    return true;
}

static int take_block(kv_cache* kv) {
    int b;
    if (!kv->free_blocks.empty()) {
        b = kv->free_blocks.back();
        kv->free_blocks.pop_back();
    } else {
        if (kv->max_blocks && kv->n_blocks >= kv->max_blocks) return -1;
        b = (int)kv->n_blocks++;
    }
    kv->blocks_in_use.fetch_add(1, std::memory_order_relaxed);
    return b;
}

static void return_block(kv_cache* kv, int b) {
    kv->free_blocks.push_back(b);
    kv->blocks_in_use.fetch_sub(1, std::memory_order_relaxed);
}

bool kv_seq_reserve(kv_cache* kv, kv_seq* seq, int64_t n_new) {
    const int64_t end = seq->n_past + n_new;
    // A ring never needs more than W slots, however long the sequence.
    const int64_t slots = seq->window ? std::min<int64_t>(end, seq->window) : end;
    const int64_t blocks_needed = (slots + KV_BLOCK_SLOTS - 1) / KV_BLOCK_SLOTS;
    while ((int64_t)seq->block_table.size() < blocks_needed) {
        const int b = take_block(kv);
        if (b < 0) return false;
        seq->block_table.push_back(b);
    }
    if ((int64_t)seq->slot_pos.size() < slots) seq->slot_pos.resize(slots, -1);
    return true;
}

void kv_seq_reset(kv_cache* kv, kv_seq* seq) {
    for (int b : seq->block_table) return_block(kv, b);
    seq->block_table.clear();
    seq->slot_pos.clear();
    seq->n_past = 0;
}

bool kv_seq_truncate(kv_cache* kv, kv_seq* seq, int64_t n) {
    if (n < 0 || n > seq->n_past) return false;
    if (n == seq->n_past) return true;
    if (seq->window) {
        if (!kv_ring_can_truncate(seq, n)) return false;
        for (int64_t p = n; p < seq->n_past; p++) seq->slot_pos[kv_slot(seq, p)] = -1;
        seq->n_past = n;
        return true;
    }
    const int64_t blocks_kept = (n + KV_BLOCK_SLOTS - 1) / KV_BLOCK_SLOTS;
    while ((int64_t)seq->block_table.size() > blocks_kept) {
        return_block(kv, seq->block_table.back());
        seq->block_table.pop_back();
    }
    seq->slot_pos.resize(n);
    seq->n_past = n;
    return true;
}
