/* The engine's C ABI: what the N-API glue (and the WASM glue to come) call. Plain C types,
 * status codes instead of exceptions, a message per failure. The engine never calls exit().
 *
 * Lifecycle: engine_weights_map → engine_create (or engine_create with NULL weights, then
 * engine_load_slice … engine_load_finish) → engine_seq_create / engine_step … → engine_free. One step at a time per engine; everything
 * else but engine_get_info must not run while a step does. */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ENGINE_OK = 0,
    ENGINE_BAD_INPUT = 1,      /* the call's arguments or the model are wrong; nothing changed */
    ENGINE_KV_EXHAUSTED = 2,   /* no K/V block left: free or reset sequences, then retry */
    ENGINE_INTERNAL = 3,       /* a bug or out of memory; the step's sequences were reset */
} engine_status;

/* The message of the last call on this thread that did not return ENGINE_OK. */
const char* engine_last_error(void);
/* For glue layers that refuse a call before it reaches the engine: returns s, with message as
 * the last error. */
engine_status engine_refuse(engine_status s, const char* message);

typedef enum { ENGINE_DT_F32 = 0, ENGINE_DT_F16 = 1, ENGINE_DT_BF16 = 2, ENGINE_DT_Q8_0 = 3, ENGINE_DT_Q4_0 = 4 } engine_dtype;
typedef enum { ENGINE_MOE_SPLIT_COLUMNS = 0, ENGINE_MOE_SPLIT_EXPERTS = 1 } engine_moe_split;
typedef enum { ENGINE_KV_F32 = 0, ENGINE_KV_F16 = 1, ENGINE_KV_Q8_0 = 2 } engine_kv_dtype;

typedef struct {
    int32_t vocab_size, hidden_size, intermediate_size, n_layers;
    int32_t n_heads, n_kv_heads, head_dim;
    int32_t n_experts;  /* 0 = dense SwiGLU (Mistral); else sparse MoE (Mixtral) */
    int32_t top_k;      /* experts per token */
    int32_t window;     /* sliding window W, 0 = full attention */
    float rms_eps;
    double rope_theta;
    /* RoPE pairs: 0 = HF rotate_half (x[k], x[k + D/2]); 1 = Mistral's consolidated checkpoints
     * and GGUF, (x[2k], x[2k+1]). The q/k rows of the two layouts are permutations of each other. */
    int32_t rope_interleaved;
} engine_model_config;

/* Where a stored tensor is: weight file `file`, byte offset, dtype, shape (1-D: rows = 1). */
typedef struct {
    int32_t file;
    uint64_t offset;
    int32_t dtype; /* engine_dtype */
    int64_t rows, cols;
} engine_tensor_ref;

typedef struct {
    engine_tensor_ref attn_norm, wq, wk, wv, wo, ffn_norm;
    engine_tensor_ref w1, w2, w3;       /* dense: gate, down, up */
    engine_tensor_ref router;           /* MoE: (n_experts, hidden) */
    const engine_tensor_ref* experts;   /* MoE: (n_experts, 3) = w1, w2, w3 each */
} engine_layer_refs;

typedef struct {
    engine_model_config config;
    engine_tensor_ref embed, final_norm, lm_head; /* lm_head == embed when tied */
    const engine_layer_refs* layers;              /* (n_layers) */
} engine_model_spec;

typedef struct {
    const char* backend;        /* "cpu" */
    const char* isa;            /* CPU kernel table: "scalar", "avx2", "avx512"; "" = best available */
    int32_t n_threads;          /* compute threads in all; each shard gets n_threads / tp (≥ 1) */
    int32_t tp;                 /* tensor-parallel shards, ≥ 1 */
    int32_t moe_split;          /* engine_moe_split */
    int32_t kv_dtype;           /* engine_kv_dtype */
    int64_t kv_max_blocks;      /* 0 = no limit */
} engine_options;

/* Weight files: mapped read-only (read_into_memory = 0) or read into huge-page memory. */
typedef struct engine_weights engine_weights;
engine_status engine_weights_map(const char* const* paths, int32_t n_paths, int32_t read_into_memory, engine_weights** out);
void engine_weights_free(engine_weights* w);

typedef struct engine engine;
/* Loads the model into tp shards. Takes ownership of weights whatever the outcome. With
 * weights = NULL the shards start empty and the model arrives slice by slice (below). */
engine_status engine_create(const engine_model_spec* spec, engine_weights* weights, const engine_options* options,
                            engine** out);

/* Deferred loading, so that loading overlaps downloading: each shard's slices of the stored
 * tensors, which the host fetches (only those bytes), verifies and hands in as they arrive. */
typedef struct {
    int32_t shard;
    engine_tensor_ref ref;           /* the stored tensor (file, offset identify it) */
    int64_t row_begin, row_end;      /* the rows the shard holds */
    int64_t col_begin, col_end;      /* and the columns */
    uint64_t bytes;                  /* of the slice: rows × row_bytes(cols) */
} engine_slice;
/* Writes up to cap slices, returns how many there are in all (call with cap 0 to count). */
int32_t engine_load_plan(const engine* e, engine_slice* out, int32_t cap);
/* Slice `index` of the plan: exactly its bytes, row-major (rows of the slice's columns). */
engine_status engine_load_slice(engine* e, int32_t index, const void* data, uint64_t size);
/* Checks that every slice came; steps are refused until it returns ENGINE_OK. */
engine_status engine_load_finish(engine* e);
void engine_free(engine* e);

int32_t engine_seq_create(engine* e); /* a new empty sequence's id; freed ids are reused */
engine_status engine_seq_reset(engine* e, int32_t id);
engine_status engine_seq_free(engine* e, int32_t id);
/* Keeps positions [0, n). Full attention only (a ring cannot forget its newest positions). */
engine_status engine_seq_truncate(engine* e, int32_t id, int64_t n);
int64_t engine_seq_length(const engine* e, int32_t id); /* -1 if no such sequence */

typedef struct {
    int32_t seq_id;
    int32_t n_tokens;   /* ≥ 1: a prefill chunk, or 1 to decode */
    int32_t all_logits; /* logits after every token of the chunk, else after its last only */
} engine_step_seq;

int64_t engine_step_logit_rows(const engine_step_seq* seqs, int32_t n_seqs);
/* tokens: Σ n_tokens ids, sequence after sequence. logits: (rows, vocab). The sequences'
 * caches are unchanged unless the step succeeds (or K/V runs out: then some sequences may
 * hold blocks for the positions they asked for, used by the retry). */
engine_status engine_step(engine* e, const engine_step_seq* seqs, int32_t n_seqs, const int32_t* tokens, float* logits);

/* What a sampler first asks of each of `rows` logits rows of `vocab` (≥ 1) floats, for glue
 * layers to answer off the JavaScript thread (logits_scan.cpp): out[2r] = the index of row r's
 * largest value, ties to the lowest (DESIGN.md §2: greedy's token), as a scan from index 0
 * that takes a value only when it is greater (so a NaN is never taken, and a row that starts
 * with one answers 0); out[2r + 1] = the index of its first NaN or ±Inf, or -1. */
void engine_logits_scan(const float* logits, int64_t rows, int32_t vocab, int32_t* out);

/* A sampled token from a logits row of `vocab` floats whose largest value, at index `best`, is
 * finite: src/node/sampler.ts's draw (temperature > 0; min_p 0, top_k 0 and top_p 1 are off;
 * u uniform in [0, 1)) in the same float64 steps, with an exp of its own (logits_sample.cpp). */
int32_t engine_logits_sample(const float* logits, int32_t vocab, double temperature, int32_t top_k, double top_p, double min_p,
                             double u, int32_t best);

/* What a request's logprobs need of a logits row of `vocab` floats: returns its log-sum-exp
 * (float64; within a few ulp of src/node/sampler.ts's), and writes the indices of its
 * min(top_n, vocab) largest values to top_ids — larger first, of equal values the lower index
 * — and their count to *n_top (logits_logprobs.cpp). The row's values are finite or −∞. */
double engine_logits_logprobs(const float* logits, int32_t vocab, int32_t top_n, int32_t* top_ids, int32_t* n_top);

/* One row's engine_logits_logprobs: its logits, vocab and top_n in; top_ids (room for
 * top_n), n_top and lse out. */
typedef struct {
    const float* logits;
    int32_t vocab, top_n;
    int32_t* top_ids;
    int32_t n_top;
    double lse;
} engine_logprobs_row;

/* engine_logits_logprobs of rows[i], i < n, threaded as engine_logits_sample_rows (e null:
 * the calling thread alone). ENGINE_INTERNAL if memory for a row's scratch ran out. */
engine_status engine_logits_logprobs_rows(engine* e, engine_logprobs_row* rows, int32_t n);

/* One row's engine_logits_sample. */
typedef struct {
    const float* logits;
    int32_t vocab;
    double temperature;
    int32_t top_k;
    double top_p, min_p, u;
    int32_t best;
} engine_draw;

/* tokens[i] = engine_logits_sample of draws[i], i < n, drawn on the calling thread and the
 * threads of the engine's first shard — so only between steps: the caller makes sure no step
 * of this engine runs meanwhile — or, with e null, on the calling thread alone (safe during a
 * step). Each token is the one engine_logits_sample gives alone.
 * ENGINE_INTERNAL if memory for a draw's scratch ran out (tokens then undefined). */
engine_status engine_logits_sample_rows(engine* e, const engine_draw* draws, int32_t n, int32_t* tokens);

typedef struct {
    int32_t tp, threads_per_shard, kv_block_slots;
    int64_t kv_blocks_in_use;
    uint64_t kv_block_bytes;     /* all shards together */
    uint64_t weight_bytes_max;   /* the largest shard's resident weight bytes */
    uint64_t weight_bytes_total; /* all shards (weights used in place from a mapping included) */
    char backend[32];            /* "cpu/avx2" */
} engine_info;
/* Safe to call while a step runs. */
void engine_get_info(const engine* e, engine_info* out);
uint64_t engine_shard_weight_bytes(const engine* e, int32_t shard);

/* Op timing, for benchmarks: on = 1 starts adding up every backend op's wall time, calls and
 * the weight bytes it reads, on every shard, from zero (again if it was on); 0 stops. Not
 * during a step. Nothing computed changes. */
void engine_op_timing(engine* e, int32_t on);
typedef struct {
    const char* op;       /* "matmul" (static) */
    double seconds;
    int64_t calls;
    double weight_bytes;  /* the matrices it read: matmul, moe (the experts serving a token), logits */
} engine_op_time;
/* Shard 0's totals since timing started, one entry per op (up to cap: call with cap 0 to
 * count); the number of ops, 0 while timing is off. */
int32_t engine_op_times(const engine* e, engine_op_time* out, int32_t cap);

/* Positions per K/V block. */
int32_t engine_kv_block_slots(void);

/* The CPU kernel tables this machine can run, best last: "scalar avx2 avx512". */
const char* engine_cpu_isas(void);

/* Which CPU the x86 tables' per-CPU choices were measured on: "intel", "zen4", "zen5"; "" in WASM. */
const char* engine_cpu_tuning(void);

#ifdef __cplusplus
}
#endif
