// The C ABI over the engine: argument checks, status codes and messages, lifecycle. The op
// sequence itself is engine_shard_forward (engine.cpp).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <unordered_set>

#include "engine.h"
#include "kernels.h"
#include "out_of_memory.h"

static thread_local std::string last_error;

static engine_status fail(engine_status s, const std::string& message) {
    last_error = message;
    return s;
}

const char* engine_last_error(void) { return last_error.c_str(); }
engine_status engine_refuse(engine_status s, const char* message) { return fail(s, message); }

const char* engine_cpu_isas(void) {
    static const std::string isas = cpu_kernels_available();
    return isas.c_str();
}

const char* engine_cpu_tuning(void) { return cpu_kernels_tuning(); }

int32_t engine_kv_block_slots(void) { return KV_BLOCK_SLOTS; }

engine_status engine_weights_map(const char* const* paths, int32_t n_paths, int32_t read_into_memory, engine_weights** out) {
    engine_weights* w = new engine_weights();
    w->outlives_engine = true;
    std::string err;
    for (int i = 0; i < n_paths; i++)
        if (!weights_map_file(w, paths[i], read_into_memory != 0, &err)) {
            weights_release(w);
            delete w;
            return fail(ENGINE_BAD_INPUT, err);
        }
    *out = w;
    return ENGINE_OK;
}

void engine_weights_free(engine_weights* w) {
    if (!w) return;
    weights_release(w);
    delete w;
}

static bool check_config(const engine_model_config& c, std::string* err) {
    if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.intermediate_size <= 0 || c.n_layers <= 0 || c.n_heads <= 0 ||
        c.n_kv_heads <= 0 || c.head_dim <= 0 || c.head_dim % 2 != 0 || c.window < 0 || c.n_experts < 0)
        return *err = "model config: every size must be positive (head_dim even)", false;
    if (c.n_heads % c.n_kv_heads != 0)
        return *err = "model config: num_attention_heads " + std::to_string(c.n_heads) +
                      " is not a multiple of num_key_value_heads " + std::to_string(c.n_kv_heads),
               false;
    if (c.n_experts > 0 && (c.top_k < 1 || c.top_k > c.n_experts))
        return *err = "model config: num_experts_per_tok must be 1.." + std::to_string(c.n_experts), false;
    return true;
}

void engine_free(engine* e) {
    if (!e) return;
    shard_runner_free(e->runner);
    for (engine_shard& s : e->shards) {
        delete s.timed;
        delete s.be;
    }
    delete e->comm;
    engine_weights_free(e->weights);
    delete e;
}

// The shards' backends, plans and (with weights) their loaded slices; false + *err when the
// model or the options are wrong.
static bool create_shards(engine* e, const engine_model_spec* spec, const std::vector<shard_slice>& slices,
                          const engine_weights* weights, std::string* err) {
    const engine_options& options = e->opts;
    const int tp = options.tp;
    const int per_shard = std::max(1, options.n_threads / tp);
    e->shards.reserve(tp);  // placements point into the shards: they must not move
    for (int s = 0; s < tp; s++) {
        engine_shard sh;
        sh.slice = slices[s];
        const backend_config bc{{e->cfg.hidden_size, (int)sh.slice.q_heads.size(), (int)sh.slice.kv_heads.size(),
                                 e->cfg.head_dim, e->cfg.n_layers, e->cfg.rope_interleaved != 0, e->cfg.rope_theta},
                                per_shard,
                                options.isa ? options.isa : "",
                                (kv_dtype_t)options.kv_dtype,
                                options.kv_max_blocks};
        sh.be = backend_create(options.backend ? options.backend : "cpu", bc, err);
        if (!sh.be) return false;
        e->shards.push_back(std::move(sh));
        engine_shard& shard = e->shards.back();
        if (!model_plan(*spec, shard.slice, &shard.w, &shard.placements, err)) return *err = "cannot load model: " + *err, false;
        // tp = 1 may use mapped weights in place; shards repack their slices into their own memory.
        if (weights && !model_load(shard.placements, *weights, tp == 1 && weights->outlives_engine, shard.be, err))
            return *err = "cannot load model: " + *err, false;
    }
    return true;
}

engine_status engine_create(const engine_model_spec* spec, engine_weights* weights, const engine_options* options,
                            engine** out) {
    engine* e = new engine();
    e->weights = weights;
    e->cfg = spec->config;
    e->opts = *options;
    std::string err;
    std::vector<shard_slice> slices;
    const int tp = options->tp;
    if (!check_config(e->cfg, &err) ||
        !shard_plan_make(*spec, tp, (engine_moe_split)options->moe_split, &slices, &err)) {
        engine_free(e);
        return fail(ENGINE_BAD_INPUT, err);
    }
    if (options->kv_dtype < ENGINE_KV_F32 || options->kv_dtype > ENGINE_KV_Q8_0) {
        engine_free(e);
        return fail(ENGINE_BAD_INPUT, "unknown K/V dtype");
    }
    if (options->kv_dtype == ENGINE_KV_Q8_0 && e->cfg.head_dim % QK != 0) {
        engine_free(e);
        return fail(ENGINE_BAD_INPUT, "K/V dtype q8_0 quantizes blocks of 32 along head_dim, and this model's head_dim is " +
                                          std::to_string(e->cfg.head_dim) + ": use f16 or f32");
    }
    kv_cache_init(&e->kv, options->kv_max_blocks);
    if (tp > shard_runner_max_shards()) {
        engine_free(e);
        return fail(ENGINE_BAD_INPUT, "tp " + std::to_string(tp) + ": this build runs at most " +
                                          std::to_string(shard_runner_max_shards()) + " shard(s) (it has no threads)");
    }
    bool created = false, out_of_memory = false;
    ON_OUT_OF_MEMORY_TRY { created = create_shards(e, spec, slices, weights, &err); }
    ON_OUT_OF_MEMORY { out_of_memory = true; }
    if (!created) {
        engine_free(e);
        return out_of_memory ? fail(ENGINE_INTERNAL, "out of memory while loading the model") : fail(ENGINE_BAD_INPUT, err);
    }
    if (weights && (tp > 1 || !weights->outlives_engine)) {  // every byte now lives in the shards
        engine_weights_free(e->weights);
        e->weights = nullptr;
    }
    e->backend_name = e->shards[0].be->name();
    e->comm = communicator_local_create(tp);
    e->runner = shard_runner_init(tp);
    *out = e;
    return weights ? engine_load_finish(e) : ENGINE_OK;
}

// The plan's slices in order: shard 0's placements, then shard 1's, …
static placement* plan_at(engine* e, int32_t index, engine_shard** shard) {
    for (engine_shard& s : e->shards) {
        if (index < (int32_t)s.placements.size()) return *shard = &s, &s.placements[index];
        index -= (int32_t)s.placements.size();
    }
    return nullptr;
}

int32_t engine_load_plan(const engine* e, engine_slice* out, int32_t cap) {
    int32_t n = 0;
    for (size_t s = 0; s < e->shards.size(); s++)
        for (const placement& p : e->shards[s].placements) {
            if (n < cap)
                out[n] = engine_slice{(int32_t)s, p.ref, p.rows.begin, p.rows.end, p.cols.begin, p.cols.end,
                                      tensor_bytes((dtype_t)p.ref.dtype, p.rows.size(), p.cols.size())};
            n++;
        }
    return n;
}

engine_status engine_load_slice(engine* e, int32_t index, const void* data, uint64_t size) {
    engine_shard* shard = nullptr;
    placement* p = index >= 0 ? plan_at(e, index, &shard) : nullptr;
    if (!p) return fail(ENGINE_BAD_INPUT, "no slice " + std::to_string(index) + " in the load plan");
    const dtype_t dt = (dtype_t)p->ref.dtype;
    const uint64_t want = tensor_bytes(dt, p->rows.size(), p->cols.size());
    if (size != want)
        return fail(ENGINE_BAD_INPUT, p->name + ": slice of " + std::to_string(size) + " bytes, expected " +
                                          std::to_string(want) + " (rows " + std::to_string(p->rows.begin) + ".." +
                                          std::to_string(p->rows.end) + ", columns " + std::to_string(p->cols.begin) +
                                          ".." + std::to_string(p->cols.end) + ")");
    std::string err;
    const host_tensor src{data, dt, p->rows.size(), p->cols.size(), row_bytes(dt, p->cols.size())};
    ON_OUT_OF_MEMORY_TRY {
        if (!placement_load(p, src, false, shard->be, &err)) return fail(ENGINE_BAD_INPUT, err);
    }
    ON_OUT_OF_MEMORY {
        return fail(ENGINE_INTERNAL, "out of memory while loading " + p->name);
    }
    return ENGINE_OK;
}

engine_status engine_load_finish(engine* e) {
    for (engine_shard& s : e->shards) {
        for (const placement& p : s.placements)
            if (!p.placed) return fail(ENGINE_BAD_INPUT, "cannot load model: " + p.name + " never arrived");
    }
    e->loaded = true;
    return ENGINE_OK;
}

int32_t engine_seq_create(engine* e) { return kv_seq_create(&e->kv, e->cfg.window); }

static engine_status no_such_sequence(int32_t id) {
    return fail(ENGINE_BAD_INPUT, "sequence " + std::to_string(id) + " does not exist");
}

engine_status engine_seq_reset(engine* e, int32_t id) {
    kv_seq* s = kv_seq_get(&e->kv, id);
    if (!s) return no_such_sequence(id);
    kv_seq_reset(&e->kv, s);
    return ENGINE_OK;
}

engine_status engine_seq_free(engine* e, int32_t id) {
    return kv_seq_free(&e->kv, id) ? ENGINE_OK : no_such_sequence(id);
}

engine_status engine_seq_truncate(engine* e, int32_t id, int64_t n) {
    kv_seq* s = kv_seq_get(&e->kv, id);
    if (!s) return no_such_sequence(id);
    if (!kv_seq_truncate(&e->kv, s, n))
        return fail(ENGINE_BAD_INPUT, "cannot truncate sequence " + std::to_string(id) + " to " + std::to_string(n) +
                                          " of " + std::to_string(s->n_past) + " positions");
    return ENGINE_OK;
}

int64_t engine_seq_length(const engine* e, int32_t id) {
    const kv_seq* s = kv_seq_get(const_cast<kv_cache*>(&e->kv), id);
    return s ? s->n_past : -1;
}

int64_t engine_step_logit_rows(const engine_step_seq* seqs, int32_t n_seqs) {
    int64_t rows = 0;
    for (int i = 0; i < n_seqs; i++) rows += seqs[i].all_logits ? seqs[i].n_tokens : 1;
    return rows;
}

static bool check_step(engine* e, const engine_step_seq* seqs, int n_seqs, const int32_t* tokens, std::string* err) {
    if (n_seqs <= 0) return *err = "step needs at least one sequence", false;
    std::unordered_set<int> seen;
    int64_t t = 0;
    for (int i = 0; i < n_seqs; i++) {
        const engine_step_seq& s = seqs[i];
        if (!kv_seq_get(&e->kv, s.seq_id)) return *err = "sequence " + std::to_string(s.seq_id) + " does not exist", false;
        if (!seen.insert(s.seq_id).second)
            return *err = "sequence " + std::to_string(s.seq_id) + " appears twice in one step", false;
        if (s.n_tokens <= 0) return *err = "sequence " + std::to_string(s.seq_id) + " has no tokens", false;
        for (int j = 0; j < s.n_tokens; j++, t++)
            if (tokens[t] < 0 || tokens[t] >= e->cfg.vocab_size)
                return *err = "token id " + std::to_string(tokens[t]) + " is outside the vocabulary [0, " +
                              std::to_string(e->cfg.vocab_size) + ")",
                       false;
    }
    if (t > (1 << 24)) return *err = "step has too many tokens", false;
    return true;
}

// The step's batch: chunks, positions, and which rows return logits.
static void build_batch(engine* e, const engine_step_seq* seqs, int n_seqs, const int32_t* tokens) {
    step_batch& b = e->batch;
    b.chunks.clear();
    b.positions.clear();
    b.token_chunk.clear();
    b.logit_rows.clear();
    b.tokens = tokens;
    int T = 0;
    for (int i = 0; i < n_seqs; i++) {
        kv_seq* s = kv_seq_get(&e->kv, seqs[i].seq_id);
        b.chunks.push_back({s, T, seqs[i].n_tokens});
        for (int j = 0; j < seqs[i].n_tokens; j++) {
            b.positions.push_back(s->n_past + j);
            b.token_chunk.push_back(i);
            if (seqs[i].all_logits || j == seqs[i].n_tokens - 1) b.logit_rows.push_back(T + j);
        }
        T += seqs[i].n_tokens;
    }
    b.n_tokens = T;
}

engine_status engine_step(engine* e, const engine_step_seq* seqs, int32_t n_seqs, const int32_t* tokens, float* logits) {
    std::string err;
    if (!e->loaded) return fail(ENGINE_BAD_INPUT, "the model is still loading: every slice must arrive first");
    if (!check_step(e, seqs, n_seqs, tokens, &err)) return fail(ENGINE_BAD_INPUT, err);
    ON_OUT_OF_MEMORY_TRY {
        for (int i = 0; i < n_seqs; i++)
            if (!kv_seq_reserve(&e->kv, kv_seq_get(&e->kv, seqs[i].seq_id), seqs[i].n_tokens))
                return fail(ENGINE_KV_EXHAUSTED, "K/V cache memory is exhausted: free or reset sequences");
        for (engine_shard& s : e->shards)
            if (!s.be->kv_grow(e->kv.n_blocks))
                return fail(ENGINE_KV_EXHAUSTED, "K/V cache memory is exhausted (allocation failed): free or reset sequences");
        build_batch(e, seqs, n_seqs, tokens);
        e->comm->reset();
        e->comm->prepare((size_t)e->batch.n_tokens * e->cfg.hidden_size);
    }
    ON_OUT_OF_MEMORY {
        return fail(ENGINE_INTERNAL, "out of memory preparing the step");
    }

    std::vector<char> shard_ok(e->shards.size(), 1);
    shard_runner_run(e->runner, [&](int rank) {
        e->shards[rank].ok = true;
        ON_OUT_OF_MEMORY_TRY { shard_ok[rank] = engine_shard_forward(e, rank, logits); }
        ON_OUT_OF_MEMORY {
            shard_ok[rank] = 0;
            e->comm->abort();  // the other shards stop waiting for this one
        }
    });
    bool cache_ok = true, ran = true;
    for (size_t s = 0; s < e->shards.size(); s++) cache_ok &= e->shards[s].ok, ran &= shard_ok[s] != 0;
    if (!ran || !cache_ok) {
        // The shards may have written some of the step's keys: these sequences start over.
        for (const step_chunk& c : e->batch.chunks) kv_seq_reset(&e->kv, c.seq);
        return fail(ENGINE_INTERNAL, !ran ? "out of memory during the engine step; its sequences were reset"
                                          : "internal error: a K/V cache slot holds the wrong position");
    }
    for (const step_chunk& c : e->batch.chunks) {  // the slots written now hold these positions
        const int64_t end = c.seq->n_past + c.n_tok;
        for (int64_t p = kv_first_cached(c.seq, c.n_tok); p < end; p++) c.seq->slot_pos[kv_slot(c.seq, p)] = p;
        c.seq->n_past = end;
    }
    return ENGINE_OK;
}

void engine_get_info(const engine* e, engine_info* out) {
    std::memset(out, 0, sizeof(*out));
    out->tp = (int32_t)e->shards.size();
    out->threads_per_shard = e->shards.empty() ? 0 : e->shards[0].be->threads();
    out->kv_block_slots = KV_BLOCK_SLOTS;
    out->kv_blocks_in_use = e->kv.blocks_in_use.load(std::memory_order_relaxed);
    for (const engine_shard& s : e->shards) {
        out->kv_block_bytes += s.be->kv_block_bytes();
        out->weight_bytes_total += s.be->weight_bytes();
        out->weight_bytes_max = std::max<uint64_t>(out->weight_bytes_max, s.be->weight_bytes());
    }
    std::strncpy(out->backend, e->backend_name.c_str(), sizeof(out->backend) - 1);
}

uint64_t engine_shard_weight_bytes(const engine* e, int32_t shard) {
    return shard >= 0 && shard < (int)e->shards.size() ? e->shards[shard].be->weight_bytes() : 0;
}

void engine_op_timing(engine* e, int32_t on) {
    for (engine_shard& s : e->shards) {
        delete s.timed;
        s.timed = on ? new timed_backend(s.be) : nullptr;
    }
}

int32_t engine_op_times(const engine* e, engine_op_time* out, int32_t cap) {
    const timed_backend* t = e->shards.empty() ? nullptr : e->shards[0].timed;
    if (!t) return 0;
    for (int op = 0; op < OP_COUNT && op < cap; op++) {
        const op_totals& o = t->totals(op);
        out[op] = engine_op_time{timed_op_name(op), o.seconds, o.calls, o.weight_bytes};
    }
    return OP_COUNT;
}

// fn(i) for i < n on the engine's host threads (backend::host_for), or on the calling thread
// alone without an engine; a std::bad_alloc in any a status: the node's per-row work.
static engine_status host_rows(engine* e, int32_t n, const std::function<void(int)>& fn) {
    std::atomic<bool> out_of_memory{false};
    const auto row = [&](int i) {
        ON_OUT_OF_MEMORY_TRY { fn(i); }
        ON_OUT_OF_MEMORY { out_of_memory.store(true, std::memory_order_relaxed); }
    };
    if (!e || e->shards.empty()) for (int32_t i = 0; i < n; i++) row(i);
    else e->shards[0].be->host_for(n, row);
    return out_of_memory.load() ? fail(ENGINE_INTERNAL, "out of memory for a logits row's scratch") : ENGINE_OK;
}

engine_status engine_logits_sample_rows(engine* e, const engine_draw* draws, int32_t n, int32_t* tokens) {
    return host_rows(e, n, [&](int i) {
        const engine_draw& d = draws[i];
        tokens[i] = engine_logits_sample(d.logits, d.vocab, d.temperature, d.top_k, d.top_p, d.min_p, d.u, d.best);
    });
}

engine_status engine_logits_logprobs_rows(engine* e, engine_logprobs_row* rows, int32_t n) {
    return host_rows(e, n, [&](int i) {
        engine_logprobs_row& r = rows[i];
        r.lse = engine_logits_logprobs(r.logits, r.vocab, r.top_n, r.top_ids, &r.n_top);
    });
}
