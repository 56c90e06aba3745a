// The engine: a loaded model, its thread pool, the K/V pool and the live sequences.
// engine_step advances a batch of independent sequences by one call: each sequence either
// prefills a chunk of any length or decodes one token (a chunk of 1), at its own position.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kv_cache.h"
#include "model.h"
#include "thread_pool.h"

struct engine {
    model m;
    thread_pool* pool = nullptr;
    kv_pool kv;
    std::vector<kv_seq*> seqs;    // sequence id → cache; nullptr once freed
    std::vector<double> inv_freq; // (head_dim / 2) RoPE frequencies
};

// Takes ownership of m. n_threads ≥ 1; kv_max_blocks = 0 for no limit.
engine* engine_init(model&& m, int n_threads, int64_t kv_max_blocks);
void engine_free(engine* e);

int engine_seq_create(engine* e);            // a new empty sequence's id
bool engine_seq_reset(engine* e, int id);    // back to position 0, blocks returned
bool engine_seq_free(engine* e, int id);
bool engine_seq_truncate(engine* e, int id, int64_t n);  // see kv_seq_truncate
int64_t engine_seq_length(const engine* e, int id);  // positions cached, -1 if no such sequence

struct step_seq {
    int seq_id;
    int n_tokens;     // ≥ 1: a prefill chunk, or 1 to decode
    bool all_logits;  // logits after every token of the chunk, else after its last only
};

// tokens: Σ n_tokens ids, sequence after sequence. logits: (Σ rows, vocab) where a sequence
// contributes n_tokens rows if all_logits else 1. false + *err on bad input; the caches of
// the sequences are unchanged unless the step succeeds or runs out of K/V memory.
bool engine_step(engine* e, const step_seq* seqs, int n_seqs, const int32_t* tokens, float* logits,
                 std::string* err);
int64_t engine_step_logit_rows(const step_seq* seqs, int n_seqs);
