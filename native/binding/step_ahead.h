// The step an engine's step thread runs ahead: decoding's next step (each sequence fed its
// argmax or its sampled token), begun as soon as the step before it ends, while the JS thread
// reads that one's rows (StepThread). Plain data
// and the rules for using it; the caller holds the lock that guards it.
#pragma once
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine_api.h"

// A step as the step thread runs it: plain data, no JS handles.
struct StepWork {
    std::vector<engine_step_seq> seqs;
    std::vector<int32_t> tokens;
    float* logits = nullptr;  // (rows, vocab)
    int64_t rows = 0;
    int32_t vocab = 0;
    int32_t* scan = nullptr;  // 2 · rows: engine_logits_scan's answers, when asked for
    engine_status status = ENGINE_OK;
    std::string message;

    void Run(engine* e) {
        status = engine_step(e, seqs.data(), (int)seqs.size(), tokens.data(), logits);
        if (status != ENGINE_OK) message = engine_last_error();  // same thread as the step
        else if (scan) engine_logits_scan(logits, rows, vocab, scan);
    }
};

// Each row's token for the step after `done` (*tokens): its argmax (scan: engine_logits_scan's),
// or drawn as draws[i] says — what the node's sampler draws from that row (engine_logits_sample,
// on the engine's threads, as Engine.drawTokens). A row with a NaN or ±Inf, which the node
// fails, keeps its argmax. False when a draw found no memory: no step runs ahead.
inline bool next_tokens(engine* e, const StepWork& done, std::vector<engine_draw> draws, const int32_t* scan, std::vector<int32_t>* tokens) {
    tokens->resize((size_t)done.rows);
    std::vector<engine_draw> sampled;
    for (int64_t i = 0; i < done.rows; i++) {
        (*tokens)[i] = scan[2 * i];
        if (draws.empty() || draws[i].temperature == 0 || scan[2 * i + 1] >= 0) continue;
        draws[i].logits = done.logits + i * done.vocab;
        draws[i].vocab = done.vocab;
        draws[i].best = scan[2 * i];
        sampled.push_back(draws[i]);
    }
    std::vector<int32_t> drawn(sampled.size());
    if (!sampled.empty() && engine_logits_sample_rows(e, sampled.data(), (int32_t)sampled.size(), drawn.data()) != ENGINE_OK) return false;
    for (int64_t i = 0, k = 0; i < done.rows; i++)
        if (!draws.empty() && draws[i].logits) (*tokens)[i] = drawn[k++];
    return true;
}

// Sequences and the lengths to put them back to: what a step run ahead added, taken back.
using SequenceLengths = std::vector<std::pair<int32_t, int64_t>>;
inline void take_back(engine* e, const SequenceLengths& lengths) {
    for (const auto& [id, n] : lengths)
        if (engine_seq_length(e, id) > n) engine_seq_truncate(e, id, n);
}

// After a step whose every sequence got one logits row, the same sequences each fed the token
// the node takes from its row (next_tokens: greedy's argmax, or a sample whose uniform the
// node drew beforehand, as it would have after the step). The wake-ups and JavaScript between
// two steps (0.3–0.46 ms a mini-model step from Node on a 2-vCPU VM, 28 µs from C++) leave
// the step's path. A later step() of some of its
// sequences, each fed the same token, takes their rows: each row is what that step would
// compute (a row depends on its sequence alone: batch invariance). Every other sequence of it
// is taken back, back to its length before it, before anything else touches the engine.
struct StepAhead {
    enum State { NONE, RUNNING, DONE } state = NONE;
    StepWork work;              // into the step thread's own buffers
    SequenceLengths lengths;    // by row: its sequence's length before it
    std::vector<char> kept;     // by row: neither answered nor taken back yet
    uint64_t answered = 0;      // step() calls answered from it, so far
    uint64_t taken_back = 0;    // positions taken back, so far

    bool any_kept() const {
        for (char k : kept)
            if (k) return true;
        return false;
    }

    // The row of each sequence of `asked`, if it asks for kept rows only (one token each, the
    // same one, no sequence twice). Reads no result: callable while the step runs.
    bool rows_for(const StepWork& asked, std::vector<int>* rows) const {
        if (asked.seqs.empty()) return false;
        std::vector<char> used(kept.size(), 0);
        rows->clear();
        for (size_t i = 0; i < asked.seqs.size(); i++) {
            int r = 0;
            while (r < (int)work.seqs.size() && work.seqs[r].seq_id != asked.seqs[i].seq_id) r++;
            if (r == (int)work.seqs.size() || !kept[r] || used[r] || asked.seqs[i].n_tokens != 1 ||
                asked.tokens[i] != work.tokens[r])
                return false;
            used[r] = 1;
            rows->push_back(r);
        }
        return true;
    }

    // Marks the kept rows of these sequences (all if null) taken back; appends their lengths.
    void drop(const std::vector<int32_t>* ids, SequenceLengths* back) {
        for (size_t r = 0; r < kept.size(); r++) {
            if (!kept[r]) continue;
            bool hit = !ids;
            for (size_t i = 0; ids && i < ids->size() && !hit; i++) hit = (*ids)[i] == work.seqs[r].seq_id;
            if (!hit) continue;
            kept[r] = 0;
            back->push_back(lengths[r]);
            taken_back++;
        }
        if (state == DONE && !any_kept()) state = NONE;
    }

    // Copies `rows` into `into` (the asked step's rows, in its order), and takes back the rest.
    void answer(const std::vector<int>& rows, StepWork* into, SequenceLengths* back) {
        const size_t V = (size_t)work.vocab;
        for (size_t i = 0; i < rows.size(); i++) {
            std::memcpy(into->logits + i * V, work.logits + rows[i] * V, sizeof(float) * V);
            if (into->scan) std::memcpy(into->scan + 2 * i, work.scan + 2 * rows[i], sizeof(int32_t) * 2);
            kept[rows[i]] = 0;
        }
        into->status = ENGINE_OK;
        answered++;
        drop(nullptr, back);
        state = NONE;
    }
};
