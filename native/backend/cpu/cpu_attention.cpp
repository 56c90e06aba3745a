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
// 1.5 ms after this loop. Given rows in the order interleave_quarters leaves them, it reads 8
// runs at once (the keys' quarters and the values'), as memory serves several streams faster
// than 1 (panel_layout.h).
static void touch_rows(const void* const* keys, const void* const* values, int n, int row_bytes) {
    unsigned char sink = 0;
    auto touch = [&](const void* row) {
        for (int b = 0; b < row_bytes; b += 64) sink ^= *((const volatile unsigned char*)row + b);
    };
    for (int j = 0; j < n; j++) {
        touch(keys[j]);
        touch(values[j]);
    }
    (void)sink;
}

// Puts a work item's n key and value rows in the order the kernels read them. A whole block,
// or a sliding window's first (partial) block: its quarters interleaved, row j of each quarter
// in turn, so a kernel reading rows in order reads 4 runs of memory at once, which memory
// serves faster than one (panel_layout.h). The extra time of a step at 4,096 tokens (2
// threads, Intel Xeon, interleaved A/B): mistral-mini Q4_0 6.7–7.2 → 6.0–6.1 ms (3 of 3
// rounds), Q8_0 6.4–6.6 → 6.0–6.2 (2 of 3); mixtral-mini's (64-dim rows) stayed 3.1–3.3; 8
// runs gained no more. A block's last part (fewer rows, from a multiple of KEY_BLOCK) as
// they come, so that a token's order is the one before it's with its own key appended, and
// consecutive tokens read their rows together (attn_tokens). The order is the item's alone
// (cached and fresh rows alike), so a token's output still depends on its own keys alone,
// whatever the chunk or batch.
static void interleave_quarters(const void** keys, const void** values, int64_t j_begin, int n,
                                std::vector<const void*>& scratch) {
    if (n < KEY_BLOCK && j_begin % KEY_BLOCK == 0) return;
    scratch.assign(keys, keys + n);
    scratch.insert(scratch.end(), values, values + n);
    const int q = (n + 3) / 4;
    int at = 0;
    for (int j = 0; j < q; j++)
        for (int c = 0; c < 4 && c * q + j < n; c++, at++) {
            keys[at] = scratch[c * q + j];
            values[at] = scratch[n + c * q + j];
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

// The order the threads take attn_items_ in. A chunk of one token (decode): as stored, by
// block, then KV head. A chunk of several (prefill): by KV head, then block, then token, so
// that a thread's consecutive items read the same keys and values, which stay in L2 from one
// token to the next. Stored by token, each token's items read every KV head's blocks in turn:
// 2 MB a token for a 2,048-token mistral-mini prompt, more than L2 holds, so every token read
// its keys and values from L3 or memory again. The order changes no item's numbers.
const std::vector<int>& cpu_backend::attn_order(const step_batch& b) {
    const int KV = cfg_.shape.n_kv_heads;
    attn_order_.clear();
    for (const step_chunk& c : b.chunks) {
        const int t0 = c.tok_offset, t1 = t0 + c.n_tok;
        if (c.n_tok == 1) {
            for (int i = attn_first_[t0]; i < attn_first_[t1]; i++) attn_order_.push_back(i);
            continue;
        }
        int blocks = 0;  // the most any token of the chunk reads
        for (int t = t0; t < t1; t++) blocks = std::max(blocks, (attn_first_[t + 1] - attn_first_[t]) / KV);
        for (int g = 0; g < KV; g++)
            for (int bi = 0; bi < blocks; bi++)
                for (int t = t0; t < t1; t++)
                    if (attn_first_[t] + bi * KV < attn_first_[t + 1]) attn_order_.push_back(attn_first_[t] + bi * KV + g);
    }
    return attn_order_;
}

// Runs of up to `most` entries of `order` that one attn_tokens call takes: consecutive tokens
// of a chunk in one KV head and one block of keys, either all of it (the same rows in the same
// order) or all short of it (each token's rows the one before's and its own). Entries
// [groups[i], groups[i + 1]) of order; the runs depend on the batch alone, never on threads.
const std::vector<int>& cpu_backend::attn_groups(const step_batch& b, const std::vector<int>& order, int most) {
    attn_groups_.clear();
    for (int at = 0; at < (int)order.size(); at++) {
        const attn_item& it = attn_items_[order[at]];
        const bool whole = it.j_end - it.j_begin == KEY_BLOCK;
        const int run = attn_groups_.empty() ? 0 : at - attn_groups_.back();
        bool joins = run > 0 && run < most;
        if (joins) {
            const attn_item& prev = attn_items_[order[at - 1]];
            joins = b.token_chunk[prev.t] == b.token_chunk[it.t] && prev.t + 1 == it.t && prev.g == it.g &&
                    prev.j_begin == it.j_begin && (prev.j_end - prev.j_begin == KEY_BLOCK) == whole;
        }
        if (!joins) attn_groups_.push_back(at);
    }
    attn_groups_.push_back((int)order.size());
    return attn_groups_;
}

bool cpu_backend::attention(float* out, int layer, const float* q, const float* k_new, const float* v_new,
                            const step_batch& b) {
    const int H = cfg_.shape.n_heads, KV = cfg_.shape.n_kv_heads, D = cfg_.shape.head_dim;
    const int group = H / KV;  // query head h reads kv head h / group
    const float scale = 1.0f / std::sqrt((float)D);
    const int T = b.n_tokens;
    const int64_t row_bytes = kv_row_bytes();
    // The chunk's own keys and values as the cache will hold them (kv_store_row), so a token
    // sees the same numbers whether its keys come from this chunk or from the cache later, and
    // a work item's rows are of one type. Rows (token, KV head) in order.
    const char *k_fresh = (const char*)k_new, *v_fresh = (const char*)v_new;
    if (cfg_.kv_dtype != KV_F32) {
        const int64_t n_rows = (int64_t)T * KV;
        kv_fresh_.resize((size_t)(2 * n_rows * row_bytes));
        thread_pool_for(pool_, T, thread_pool_grain(pool_, T, 4), [&](int begin, int end, int) {
            for (int64_t r = (int64_t)begin * KV; r < (int64_t)end * KV; r++) {
                kv_store_row(k_new + r * D, &kv_fresh_[(size_t)(r * row_bytes)]);
                kv_store_row(v_new + r * D, &kv_fresh_[(size_t)((n_rows + r) * row_bytes)]);
            }
        });
        k_fresh = kv_fresh_.data();
        v_fresh = k_fresh + n_rows * row_bytes;
    }
    std::atomic<bool> cache_ok{true};
    const cpu_kernels* k = k_;

    // Work items: (token, block of visible keys, KV head); consecutive items read neighbouring
    // runs of the K/V blocks. Blocks split the range [j0, p_q] at multiples of KEY_BLOCK, the
    // same way whatever the batch, and partial results are combined in block order, so a
    // token's output depends on its own keys alone (batch invariance). At multiples, not from
    // j0: past a sliding window each token's j0 is the one before's + 1, and blocks from j0
    // would differ for every token, where these are the same whole blocks and last blocks
    // that grow by a key, which consecutive tokens read together (attn_groups); only the
    // first block, up to the first multiple, is a token's own.
    attn_items_.clear();
    attn_first_.resize(T + 1);
    for (int t = 0; t < T; t++) {
        attn_first_[t] = (int)attn_items_.size();
        const kv_seq* seq = b.chunks[b.token_chunk[t]].seq;
        const int64_t p_q = b.positions[t], j0 = swa_first_visible(p_q, seq->window);
        for (int64_t jb = j0, end; jb <= p_q; jb = end) {
            end = std::min(p_q + 1, (jb / KEY_BLOCK + 1) * KEY_BLOCK);
            for (int g = 0; g < KV; g++) attn_items_.push_back({t, g, jb, end});
        }
    }
    const int n_items = (int)attn_items_.size();
    attn_first_[T] = n_items;
    attn_out_.resize((size_t)n_items * group * D);  // each item zeroes its own
    attn_stat_.resize((size_t)n_items * group * 2);
    const std::vector<int>& order = attn_order(b);
    const std::vector<int>& groups = attn_groups(b, order, k->attn_tokens ? std::min(ATTN_TOKENS, 16 / group) : 1);
    const int n_groups = (int)groups.size() - 1;
    // A group's key and value rows (those of its last token: the others' are their first n), in
    // the order the kernels read them; returns n.
    auto gather_rows = [&](int gi, const void** kp, const void** vp, std::vector<const void*>& scratch_rows) {
        const attn_item& it = attn_items_[order[groups[gi + 1] - 1]];
        const step_chunk& c = b.chunks[b.token_chunk[it.t]];
        const kv_seq* seq = c.seq;
        // Keys before `start` come from the cache, the rest from this chunk.
        const int64_t start = seq->n_past, n = it.j_end - it.j_begin;
        const int n_cached = (int)std::clamp<int64_t>(start - it.j_begin, 0, n);
        if (!cached_rows(seq, layer, it.g, it.j_begin, n_cached, kp, vp)) cache_ok.store(false, std::memory_order_relaxed);
        for (int at = n_cached; at < n; at++) {
            const int64_t row = (c.tok_offset + (it.j_begin + at - start)) * KV + it.g;
            kp[at] = k_fresh + row * row_bytes;
            vp[at] = v_fresh + row * row_bytes;
        }
        interleave_quarters(kp, vp, it.j_begin, (int)n, scratch_rows);
        return (int)n;
    };
    // A decode step (a token a chunk) deals its groups out as the threads' contiguous shares
    // (thread_pool_for_shares), and a thread gathers the group after a chunk's last too, so
    // that the kernels fetch its first keys while they finish the chunk: in a share it is most
    // often the thread's own next one. With chunks taken from a common front, each chunk's
    // first keys came cold. Decode at 4,096 tokens, mistral-mini Q4_0, 2 threads, Zen 5
    // (bench:ab --both-orders): 0.955× the step's time (52 of 58 pairs). A chunk of several
    // tokens keeps the common front: its groups' costs grow with their tokens' positions.
    const bool decode = (int)b.chunks.size() == T;
    auto run_groups = [&](int begin, int end, int) {
        const int gather_end = decode ? n_groups : end;  // the groups whose rows may be gathered ahead
        thread_local std::vector<float> scores;
        // This group's rows and the next one's, gathered a group ahead so that the kernels
        // fetch its first keys while they finish this one's values (attn_rows::next_keys).
        thread_local std::vector<const void*> keys, values, next_keys, next_values, scratch_rows;
        scores.resize((size_t)group * KEY_BLOCK);
        for (auto* rows : {&keys, &values, &next_keys, &next_values}) rows->resize(KEY_BLOCK);
        int n = gather_rows(begin, keys.data(), values.data(), scratch_rows);
        for (int gi = begin; gi < end; gi++) {
            const int first_item = order[groups[gi]], Tg = groups[gi + 1] - groups[gi];
            const attn_item& it = attn_items_[order[groups[gi + 1] - 1]];
            const int n_next = gi + 1 < gather_end ? gather_rows(gi + 1, next_keys.data(), next_values.data(), scratch_rows) : 0;
            const void** kp = keys.data();  // (thread_local: looked up once, not per row)
            const void** vp = values.data();
            if (!k->attn_prefetches) touch_rows(kp, vp, n, (int)row_bytes);
            const attn_rows rows{kp, vp, n, cfg_.kv_dtype, next_keys.data(), n_next};
            const float* q0 = q + ((int64_t)attn_items_[first_item].t * H + it.g * group) * D;  // the first token's heads
            if (Tg > 1) {
                float *o[ATTN_TOKENS], *stat[ATTN_TOKENS];
                int n_of[ATTN_TOKENS];
                for (int j = 0; j < Tg; j++) {
                    const int i = order[groups[gi] + j];
                    o[j] = &attn_out_[(size_t)i * group * D];
                    stat[j] = &attn_stat_[(size_t)i * group * 2];
                    n_of[j] = (int)(attn_items_[i].j_end - attn_items_[i].j_begin);
                }
                k->attn_tokens(o, stat, q0, (int64_t)H * D, Tg, n_of, group, D, rows, scale);
            } else {
                float* sc = scores.data();
                k->attn_scores(sc, KEY_BLOCK, q0, group, D, rows, scale);
                float* stat = &attn_stat_[(size_t)first_item * group * 2];
                for (int r = 0; r < group; r++)  // (max, Σ exp) of each query head's scores
                    stat[2 * r + 1] = k->softmax_exp(sc + r * KEY_BLOCK, n, &stat[2 * r]);
                float* o = &attn_out_[(size_t)first_item * group * D];
                std::memset(o, 0, sizeof(float) * group * D);
                k->attn_values(o, sc, KEY_BLOCK, group, D, rows);
            }
            std::swap(keys, next_keys);
            std::swap(values, next_values);
            n = n_next;
        }
    };
    if (decode) thread_pool_for_shares(pool_, n_groups, run_groups);
    else thread_pool_for(pool_, n_groups, thread_pool_grain(pool_, n_groups, 8), run_groups);

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

// Quantized rows take the integer kernels' activation quantizer (kernels.h: the same q and d
// on every table), a block of 32 at a time.
void cpu_backend::kv_store_row(const float* x, void* dst) const {
    const int D = cfg_.shape.head_dim;
    switch (cfg_.kv_dtype) {
        case KV_F32: std::memcpy(dst, x, sizeof(float) * D); return;
        case KV_F16: k_->to_f16(x, (uint16_t*)dst, D); return;
        case KV_Q8_0: {
            int8_t* q = (int8_t*)dst;
            float* d = (float*)(q + D);  // kv_q8_scales
            for (int blk = 0; blk < D / QK; blk++) {
                block_q8_act a;
                k_->quantize_act(x + blk * QK, QK, &a);
                std::memcpy(q + blk * QK, a.qs, QK);
                d[blk] = a.d;
            }
            return;
        }
    }
}

void cpu_backend::kv_write(int layer, const float* k_new, const float* v_new, const step_batch& b) {
    const int KV = cfg_.shape.n_kv_heads, D = cfg_.shape.head_dim, kv_dim = KV * D;
    for (const step_chunk& c : b.chunks) {
        const int64_t start = c.seq->n_past, first = kv_first_cached(c.seq, c.n_tok);
        const int n = (int)(start + c.n_tok - first);
        // The positions written go to distinct slots: in parallel.
        thread_pool_for(pool_, n, thread_pool_grain(pool_, n, 4), [&](int begin, int end, int) {
            for (int64_t p = first + begin; p < first + end; p++) {
                const int64_t row = c.tok_offset + (p - start), slot = kv_slot(c.seq, p);
                for (int g = 0; g < KV; g++) {
                    kv_store_row(k_new + row * kv_dim + g * D, kv_at(c.seq, layer, g, slot, false));
                    kv_store_row(v_new + row * kv_dim + g * D, kv_at(c.seq, layer, g, slot, true));
                }
            }
        });
    }
}
