// The kernel functions each ISA file defines; kernels_select.cpp assembles them into tables.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels.h"
#include "panel_layout.h"

#define DECLARE_ISA(P)                                                                                          \
    void P##_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps); \
    void P##_quantize_act(const float* x, int64_t n, block_q8_act* out);                                       \
    void P##_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w,             \
                                 const panel_set& ps);                                                          \
    void P##_axpy(float* y, float a, const float* x, int n);                                                   \
    void P##_widen_row(const tensor& w, int64_t row, float* dst);                                              \
    double P##_fma_probe(int64_t iters, float* sink);                                                          \
    double P##_int8_probe(int64_t iters, int32_t* sink);                                                       \
    void P##_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale); \
    void P##_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows);           \
    float P##_softmax_exp(float* x, int n, float* m);                                                          \
    void P##_silu_mul(float* g, const float* u, int64_t n);

DECLARE_ISA(scalar)
DECLARE_ISA(avx2)
DECLARE_ISA(avx512)
DECLARE_ISA(wasm_simd128)
// avx512_amx: the avx512 table with BF16 weights through AMX (bf16_amx_avx512.cpp).
void avx512_amx_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps);
void avx512_amx_pack_act_bf16(const act_rows& x, int T, int64_t K, int part, int parts, uint16_t* out);
double avx512_amx_bf16_probe(int64_t iters, float* sink);
// Relaxed SIMD: wasm_simd128's table with these in place (quant_wasm_relaxed_simd.cpp).
void wasm_relaxed_simd_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps);
double wasm_relaxed_simd_int8_probe(int64_t iters, int32_t* sink);
// f32 to f16: scalar (dtype.h) for scalar and WASM, F16C for AVX2 and AVX-512.
void scalar_to_f16(const float* x, uint16_t* out, int64_t n);
void avx2_to_f16(const float* x, uint16_t* out, int64_t n);
void avx512_pack_act(const act_rows& x, int T, int64_t K, int part, int parts, float* out);  // the one table that packs
void avx512_attn_tokens(float* const* o, float* const* stat, const float* q, int64_t ldq, int Tg, const int* n, int G, int D,
                        const attn_rows& rows, float scale);

// Where a prefill tile reads its weights: as stored (panel_layout.h); as stored, writing what
// it derives from them (f32 widened from F16/BF16, Q4_0 nibbles unpacked to bytes) to a copy
// as it goes (the first token tile); or from that copy (the other token tiles), so that work
// is done once a panel, not once a token tile.
enum class panel_source { stored, stored_to_copy, copy };

// `bytes` in `parts` slices of whole 64-byte lines (the last may be shorter): how the prefill
// kernels spread fetching the next panel pair over their token tiles and steps.
inline int64_t line_slice(int64_t bytes, int64_t parts) { return (bytes + 64 * parts - 1) / (64 * parts) * 64; }

// This thread's scratch for such a copy: `bytes`, 64-aligned, kept until the thread exits (a
// thread runs one kernel at a time).
inline uint8_t* thread_copy_buffer(size_t bytes) {
    thread_local std::vector<uint8_t> buffer;
    if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
    return buffer.data() + (64 - (uintptr_t)buffer.data() % 64) % 64;
}

// A helper whose only work is prefetching: GCC 12 takes it for a pure function (a prefetch
// writes nothing), and where it does not inline it the call, whose result nobody reads, is
// deleted — with its fetches. The AVX-512+AMX kernel's panel_fetch::step had been so since it
// was written (no prefetcht1 in the built kernel), and a shared fetch helper split by partial
// inlining dropped the float tiles' fetch (batch-16 F16 steps 1.39× the time). Such helpers
// are always inlined; `objdump -d` of the built kernel shows their fetches.
#define FETCH_INLINE inline __attribute__((always_inline))

// The tables' one exp (Cephes' expf, within 2 ulp): x clamped to [EXP_MIN, EXP_MAX] (a NaN
// stays NaN), n = round-half-even(x·log₂e), r = x − n·ln 2 with ln 2 in two parts so that it
// is exact, exp(r) = 1 + r + r²·(c0 + r·(c1 + …)), times 2ⁿ (exact: the result is normal).
// Every table computes it with the same operations in the same order, so silu — in every
// dense model's first position — gives the same bits on each.
static const float EXP_MIN = -87.0f, EXP_MAX = 88.0f, LOG2E = 1.44269504f;
static const float EXP_POLY[6] = {5.0000001201e-1f, 1.6666665459e-1f, 4.1665795894e-2f,
                                  8.3334519073e-3f, 1.3981999507e-3f, 1.9875691500e-4f};
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
inline float exp_poly(float x) {
    if (x != x) return x;
    x = x < EXP_MIN ? EXP_MIN : x;
    x = x > EXP_MAX ? EXP_MAX : x;
    const float n = std::nearbyint(x * LOG2E);
    float r = std::fma(-n, LN2_HI, x);
    r = std::fma(-n, LN2_LO, r);
    float p = EXP_POLY[5];
    for (int i = 4; i >= 0; i--) p = std::fma(p, r, EXP_POLY[i]);
    p = std::fma(p, r * r, r + 1.0f);
    return std::ldexp(p, (int)n);
}

// max x[j], j < n, in 8 independent lanes: one chain of maxss was most of a softmax's time.
// (Any order gives the same maximum; a NaN among x makes the softmax NaN either way.)
inline float max_lanes8(const float* x, int64_t n) {
    float lane[8] = {x[0], x[0], x[0], x[0], x[0], x[0], x[0], x[0]};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) lane[l] = std::max(lane[l], x[j + l]);
    for (; j < n; j++) lane[0] = std::max(lane[0], x[j]);
    float m = lane[0];
    for (int l = 1; l < 8; l++) m = std::max(m, lane[l]);
    return m;
}

// How far ahead of its loads, in bytes, an AVX-512 tile that streams panels from memory
// (decode; Q8_0/Q4_0 prefill's first token tile) fetches each: the same for every dtype, as a
// Q8_0 or Q4_0 tile rounds it up to whole blocks. Chosen once for the CPU (kernels_select.cpp):
// the best distance is the memory system's, and the same kernels want half of Intel's on Zen
// 5. (F16/BF16 tiles of one or two streams a thread keep their own: kernels_avx512.cpp.)
extern const int STREAM_FETCH_BYTES;

// Whether the AVX-512 tiles of calls of few tokens fetch ahead at all (float weights: 4 panels
// against 1–4 tokens, kernels_avx512.cpp; Q8_0 / Q4_0: every tile of a call under 12 tokens,
// quant_avx512.cpp), and the AVX2 table's (one-token float tiles, kernels_avx2.cpp; Q8_0 /
// Q4_0 calls of 1–12 tokens, quant_avx2.cpp's decode_tile): not on Zen 4 (and Zen 3), whose
// hardware prefetcher streams them faster alone. Chosen once, like the above.
extern const bool DECODE_TILES_FETCH;

// The Q8_0 / Q4_0 tiles that leave fetching to the hardware (DECODE_TILES_FETCH false: Zen 4)
// still fetch, as each stream enters a 4 KB page, the first two lines of the next one into
// L2: the hardware prefetcher does not cross 4 KB, so each of a tile's 4 streams waited at
// every page while it learnt the stream again. `at` is where a stream is, `step` how far it
// moves a call (one block). Batch-1 step with against without (bench:ab --both-orders
// --rounds 60, Zen 4): mistral-mini Q4_0 0.929–0.957× the time at 1 thread (100–111 of 118
// pairs), mixtral-mini Q4_0 0.923× and 0.960×, Q8_0 0.976× and 0.994×; at 2 threads 0.98–1.00×;
// batch 4 0.98–0.99×. Fetching at mid-page as often: 1.006× (so it is the page, not the
// fetching); half a page ahead 0.987×, two pages 0.964×; 1 line 0.964×, 4 lines 0.992×; into L1
// (1–2 KB ahead) 1.14–1.19×. The F16/BF16 decode tiles read the same with it (0.993–1.013×).
FETCH_INLINE void fetch_next_page(const void* at, int64_t step) {
    const uintptr_t a = (uintptr_t)at;
    if ((a & 4095) < (uintptr_t)step)  // the block that enters a page
        for (int l = 0; l < 2; l++) __builtin_prefetch((const char*)((a & ~(uintptr_t)4095) + 4096 + 64 * l), 0, 2);
}

// Whether F16/BF16 calls of 13–24 tokens (batched decode) take one_pass_tile (kernels_avx512.cpp)
// or the prefill's wide path: Intel's choice and Zen 5's differ. Chosen once, like the above.
extern const bool ONE_PASS_BATCHES;

// The AVX2 and AVX-512 attention kernels fetch the cached rows ahead of the ones in use, this
// many bytes' worth (32 f16 rows of 128): the arithmetic then overlaps the rows' trip from
// memory (cpu_kernels.attn_prefetches). A step at 4,096 tokens spent 7–15% less in attention
// than after a separate pass that read every row into L2 first (Zen 5, mistral-mini and
// mixtral-mini Q4_0, interleaved A/B); 2 KB ahead gained less and 8 KB no more — while a
// pass's first rows went unfetched, as many as it fetched ahead. Since passes fetch across
// their seams (attn_fetch), farther pays: a harness of the AVX-512 decode kernels over
// 4,096 f16 keys (mistral-mini's 16 layers × 4 KV heads, 2 threads, Zen 5) read 33.7 GB/s 4
// KB ahead, 34.5 at 6, 36.0 at 8, 30.7 at 16 (33.1 before the seams).
// AVX2 fetches into L1 (LOCALITY 3, prefetcht0); AVX-512 into L2 (2, prefetcht1): into L1 its
// fetches stalled on Intel, every L1 miss buffer taken — the extra time of a step at 4,096
// tokens (2 threads, Intel Xeon, 3 of 3 interleaved rounds each) went from 7.3–7.4 to 6.7–6.8
// ms (mistral-mini Q4_0) and 3.6–3.7 to 3.4–3.5 ms (mixtral-mini), was 8.7–8.9 ms with no
// fetching at all, and 8.5 with every other line (the L2's pair prefetcher left to fetch the
// rest). (AVX2's attention lost 0–5% with prefetcht1, and gained nothing from it since its
// accumulators went back to registers: attention_avx2.cpp.)
static const int ATTN_PREFETCH_BYTES = 8192;
inline int attn_rows_ahead(const attn_rows& rows, int D) { return std::max(4, (int)(ATTN_PREFETCH_BYTES / kv_row_bytes(rows.dtype, D))); }
template <int LOCALITY, kv_dtype_t R>
FETCH_INLINE void attn_prefetch_row(const void* row, int D) {
    for (int b = 0; b < kv_row_bytes(R, D); b += 64) __builtin_prefetch((const char*)row + b, 0, LOCALITY);
}
// The rows an AVX-512 value pass takes at a time: a run of them goes through every slice of
// columns (the outputs' slice in registers) while it is in L1, then the next run. The memory
// then serves the rows at one pace over the whole pass, where in slices of every row the
// first slice's trip waited on memory and the later slices' left it idle. Each output is the
// same chain over the rows in order. The harness above: 36.0 GB/s → 38.2 (runs of 16: 37.4,
// of 64: 37.3); decode at 4,096 tokens, mistral-mini F16 (2 threads, Zen 5, interleaved A/B
// in both orders), with the seams and 8 KB: 0.961× the step's time (15 of 22 pairs); Q4_0
// 0.836× (13 of 18), mixtral-mini Q8_0 (64-dim heads: one slice, seams alone) 0.965×. AVX2's
// value passes (8 for 4 heads of 128, in 16 registers) took 1.044× in runs (5 of 22, its
// table on Zen 5) and keep to slices of every row; its seams alone: 1.002×.
static const int ATTN_VALUE_RUN = 32;

// Fetches row f of what a pass over n rows of `own` reads ahead: its own, then the first of
// the rows read after it (a score pass: its values; a value pass: the next item's keys), so
// that the next pass's first rows are on their way too and not missed at its start. Nothing
// past both.
template <int LOCALITY, kv_dtype_t R>
FETCH_INLINE void attn_fetch(const void* const* own, int n, const void* const* then, int n_then, int f, int D) {
    if (f < n) attn_prefetch_row<LOCALITY, R>(own[f], D);
    else if (f - n < n_then) attn_prefetch_row<LOCALITY, R>(then[f - n], D);
}

// The attention kernels take head_dim as a template argument HD when it is 128 (Mistral's
// and Mixtral's heads, mistral-mini's) or 64 (mixtral-mini's), 0 otherwise: with the width
// known the loops over a row unroll — its slices, its prefetches and their bounds. For f16
// (the default cache) and q8_0 rows; f32 rows take the width at run time.
template <int HD>
inline int head_dim(int D) { return HD ? HD : D; }

// The attention kernels have widths for groups of 1, 2, 4, 8 (and AVX-512 scores 16) query
// heads a KV head; a group of another size goes through them in parts, largest first, each
// part reading the keys or values once — 6 (Mixtral 8x22B, Codestral) as 4 + 2, 12 (Mistral
// Large 2) as 8 + 4. The next part of `left` heads, at most `widest`. A head's numbers do not
// depend on its part.
inline int head_part(int left, int widest) {
    int n = widest;
    while (n > left) n /= 2;
    return n;
}

// Element i of a float-dtype row (F32, F16, BF16) as f32: the scalar tails of every table.
template <int D>
inline float elem(const void* base, int64_t i) {
    if constexpr (D == DT_F32) return ((const float*)base)[i];
    if constexpr (D == DT_F16) return f16_to_f32(((const uint16_t*)base)[i]);
    return bf16_to_f32(((const uint16_t*)base)[i]);
}

// Element d of a K/V row, as f32 (dtype.h: a q8_0 element is (float)q · d, its block's scale).
template <kv_dtype_t R>
inline float kv_elem(const void* row, int D, int d) {
    if constexpr (R == KV_Q8_0) return (float)((const int8_t*)row)[d] * kv_q8_scales(row, D)[d / QK];
    return elem<R == KV_F16 ? DT_F16 : DT_F32>(row, d);
}

