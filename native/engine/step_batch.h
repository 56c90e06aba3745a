// One engine step as the ops see it: which sequences advance, by how many tokens, at which
// positions, and which rows want logits. Built by engine_step on the host; a backend may
// copy what it needs to its device in begin_step.
#pragma once
#include <cstdint>
#include <vector>

#include "kv_cache.h"

// One sequence's share: tokens [tok_offset, tok_offset + n_tok) of the step, at positions
// [seq->n_past, seq->n_past + n_tok).
struct step_chunk {
    kv_seq* seq;
    int tok_offset;
    int n_tok;
};

struct step_batch {
    std::vector<step_chunk> chunks;
    int n_tokens = 0;
    const int32_t* tokens = nullptr;   // (n_tokens)
    std::vector<int64_t> positions;    // (n_tokens) absolute position of each token
    std::vector<int32_t> token_chunk;  // (n_tokens) index into chunks
    std::vector<int32_t> logit_rows;   // tokens whose logits are returned, in output order
};
