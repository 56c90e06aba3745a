// The CPU backend's kernels, one table per instruction set (scalar, AVX2, AVX-512; scalar and
// SIMD128 in the WASM build), chosen once when the backend starts — never by a branch inside a
// kernel. Every table computes the same functions; the matrix kernels with the same float
// operations in the same order (see cpu_kernels), so their results agree bit for bit across
// tables — except wasm_simd128, which has no fma and rounds each product (its own bits, the
// same chains). Within a table a token's results never depend on the other tokens of a call
// (batch invariance).
#pragma once
#include <cstdint>
#include <string>

#include "dtype.h"

struct panel_set;  // panel_layout.h

// An activation block for the integer kernels: like Q8_0 but with an f32 scale and its q's sum
// as the kernels start from it (internal, never stored). q in [−127, 127]; −128 never occurs,
// which the AVX2 sign trick relies on.
struct block_q8_act {
    float d;
    // −bias · Σ q: the integer kernels multiply unsigned weights (q + 128 for Q8_0, the nibble
    // n = q + 8 for Q4_0) and start their sums here, to end at the signed weights'. Kept per
    // format so that a tile loads its start as it is (AVX-512: a broadcast from memory, no
    // arithmetic): 256-token prefill of mistral-mini Q8_0 0.94–0.965× the time of computing it
    // a tile, Q4_0 0.967×, mixtral-mini Q4_0 0.963×, Q8_0 within noise (2 threads, Intel Xeon,
    // interleaved A/B, 3 of 3 rounds each).
    int32_t start_q8, start_q4;
    int8_t qs[QK];
};

inline void set_act_sum(block_q8_act& b, int32_t sum) {
    b.start_q8 = -128 * sum;
    b.start_q4 = -8 * sum;
}

// Which activation rows a kernel call reads: token t of the call is row idx[t] of x, or row t
// when idx is null. An expert reads its tokens straight out of the batch this way (no gather).
// packed: the same rows laid out by the table's pack_act for a call of T tokens (or null);
// packed_bf16: by its pack_act_bf16 (or null).
struct act_rows {
    const float* x;    // (rows, ld)
    int64_t ld;
    const int32_t* idx;
    const float* packed = nullptr;
    const uint16_t* packed_bf16 = nullptr;
    const float* row(int t) const { return x + (idx ? idx[t] : t) * ld; }
    act_rows from(int t0) const { return idx ? act_rows{x, ld, idx + t0} : act_rows{x + t0 * ld, ld, nullptr}; }
};

// The same for quantized activations, nb blocks a row.
struct qact_rows {
    const block_q8_act* xq;  // (rows, nb)
    int64_t nb;
    const int32_t* idx;
    const block_q8_act* row(int t) const { return xq + (idx ? idx[t] : t) * nb; }
    qact_rows from(int t0) const { return idx ? qact_rows{xq, nb, idx + t0} : qact_rows{xq + t0 * nb, nb, nullptr}; }
};

// n keys and their values for attention: rows of head_dim as the K/V cache stores them
// (dtype.h: kv_dtype_t), by pointer (cache slots are scattered).
struct attn_rows {
    const void* const* keys;
    const void* const* values;
    int n;
    kv_dtype_t dtype;
    // The keys the caller reads next (its next work item's), which kernels that fetch ahead
    // fetch once their own rows are fetched: the memory stays busy across the seam.
    const void* const* next_keys = nullptr;
    int n_next = 0;
};

// The matrix kernels read weights in the panel layout (panel_layout.h) and write, for the rows
// of the panels of ps (panel_set) and tokens [0, T): y[t·ldy + r] = (row r of w) · (activation row t).
// Every output is one chain along k whatever the tile:
//   float weights   acc = fma(w[r][k], x[t][k], acc) for k = 0, 1, …, K − 1, from acc = 0;
//   Q8_0 / Q4_0     acc = fma((float)s_b, d_w[r][b] · d_x[t][b], acc) for blocks b in order,
//                   s_b = Σ q_w·q_x over the block (an exact integer, any order),
// so a token's logits are bit-identical alone or in any batch, and across the tables.
// The most tokens one attn_tokens call takes (cpu_kernels below).
static const int ATTN_TOKENS = 4;

struct cpu_kernels {
    const char* isa;  // "scalar", "avx2", "avx512", "avx512_amx", "wasm_simd128", "wasm_relaxed_simd"
    void (*matmul_panels)(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps);
    // Calls of at least pack_min_tokens tokens read their activations packed by pack_act: a
    // T-token call's rows of K into out (T·K floats) in the table's own layout, in `parts`
    // parts that may run in parallel.
    int pack_min_tokens;
    void (*pack_act)(const act_rows& x, int T, int64_t K, int part, int parts, float* out);
    // x (n) → n/32 activation blocks, d = max|x| / 127, q = round-half-even(x / d), sum = Σ q.
    void (*quantize_act)(const float* x, int64_t n, block_q8_act* out);
    void (*quant_matmul_panels)(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps);
    void (*axpy)(float* y, float a, const float* x, int n);  // y += a·x
    // Attention for the G query heads of one KV head against n keys and values:
    //   scores  s[r·lds + j] = scale · (q row r · key j);
    //   values  o[r·D + d] += Σ_j w[r·ldw + j] · value_j[d], j in order.
    void (*attn_scores)(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale);
    void (*attn_values)(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows);
    // Whether those two fetch their rows ahead themselves; for tables that do not, the backend
    // first reads each work item's rows once, bringing them into cache (cpu_attention.cpp).
    bool attn_prefetches;
    // Softmax numerators in place: *m = max x[j], then x[j] = exp(x[j] − *m) for j < n (n ≥ 1);
    // returns Σ x[j], summed in an order that depends on n alone.
    float (*softmax_exp)(float* x, int n, float* m);
    // SwiGLU's g = silu(g) · u = g / (1 + exp(−g)) · u, with exp_poly (kernels_isa.h): the same
    // bits on every table.
    void (*silu_mul)(float* g, const float* u, int64_t n);
    void (*widen_row)(const tensor& w, int64_t row, float* dst);  // a row-major float table (embed)
    // K/V rows to f16: round to nearest even, as f32_to_f16 (dtype.h) — the same bits on every
    // table, a NaN aside (it stays a NaN, its payload may differ).
    void (*to_f16)(const float* x, uint16_t* out, int64_t n);
    // The FMA peak probe for benchmarks: `iters` rounds of independent vector FMA chains;
    // returns the floating-point operations done (2 per lane per FMA).
    double (*fma_probe)(int64_t iters, float* sink);
    // The same for the integer kernels' int8 multiply-adds (VNNI where the table has it):
    // returns the operations done (2 per int8 product).
    double (*int8_probe)(int64_t iters, int32_t* sink);
    // The same for a unit of the table's own that its BF16 matmuls run on (AMX tiles: 2 per
    // product); null where they run on the FMA kernels.
    double (*bf16_probe)(int64_t iters, float* sink) = nullptr;
    // BF16 matrices of 16 rows or more packed for AMX tiles (panel_layout.h: BF16 tile pairs)
    // instead of as the other float dtypes. Every call on them reads its activations from
    // pack_act_bf16 (in parts, as pack_act): each row as two in bf16, hi + lo, in token tiles of
    // 16 (panel_layout.h), zero past K; the kernels load the last tile whole (any bytes past T).
    bool bf16_tile_pairs = false;
    void (*pack_act_bf16)(const act_rows& x, int T, int64_t K, int part, int parts, uint16_t* out) = nullptr;
    // Attention of Tg ≤ ATTN_TOKENS consecutive tokens of a chunk at once, G ≤ 16 / Tg query
    // heads each (token i's heads at q + i·ldq), token i against rows [0, n[i]) (n ascending,
    // each row a key the last token sees): each row loaded once for all of them. Writes what
    // attn_scores, softmax_exp and attn_values give each token alone, to the bit: o[i] (G × D)
    // and stat[i] (G × 2: the scores' max, Σ exp). Null: the backend runs them token by token.
    void (*attn_tokens)(float* const* o, float* const* stat, const float* q, int64_t ldq, int Tg, const int* n, int G, int D,
                        const attn_rows& rows, float scale) = nullptr;
};

// The table for `isa` (a name above), or the best this CPU runs when isa is
// empty. null + *err if the CPU lacks it or the name is unknown.
const cpu_kernels* cpu_kernels_select(const std::string& isa, std::string* err);
// "scalar avx2 avx512": the tables this CPU can run, best last.
std::string cpu_kernels_available();
// Which CPU's measurements the per-CPU choices of the x86 tables follow (kernels_select.cpp):
// "intel", "zen4", "zen5" (AMD but family 19h); "" where there are none (WASM).
const char* cpu_kernels_tuning();
