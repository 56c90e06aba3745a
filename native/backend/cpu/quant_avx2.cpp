// AVX2 integer kernels for Q8_0 / Q4_0 weights in the panel layout: kernels_scalar.cpp's
// quantized code, 8 rows to a vector, with the same float operations in the same order
// (bit-identical results).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx2_common.h"

AVX2_FN static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

AVX2_FN void avx2_quantize_act(const float* x, int64_t n, block_q8_act* out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    // packs_epi32/epi16 interleave 128-bit lanes; this puts the four-byte groups back in order.
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < n / QK; b++) {
        __m256 v[4];
        for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + b * QK + 8 * k);
        __m256 m = _mm256_andnot_ps(sign, v[0]);
        for (int k = 1; k < 4; k++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = d;
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        const __m256i q8 = _mm256_permutevar8x32_epi32(q16, order);
        _mm256_storeu_si256((__m256i*)out[b].qs, q8);
        set_act_sum(out[b], hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q8), _mm256_set1_epi16(1))));
    }
}

// Activations group g of a block (4 bytes) in every lane.
AVX2_FN static inline __m256i group(const block_q8_act& x, int g) {
    int32_t v;
    __builtin_memcpy(&v, x.qs + 4 * g, 4);
    return _mm256_set1_epi32(v);
}

// maddubs multiplies unsigned bytes by signed ones and sums pairs into int16, saturating; so
// Q8_0 (stored q + 128) goes back to signed q and uses the sign trick: |q| times q_x with q's
// sign, pairs ≤ 2·128·127. Q4_0 nibbles n are small enough as they are (≤ 2·15·127), and
// Σ (n − 8)·q_x = Σ n·q_x − 8·Σ q_x.
AVX2_FN static inline __m256i dot4(__m256i acc, __m256i w_abs, __m256i w_sign, __m256i xg) {
    const __m256i p16 = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(xg, w_sign));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// Decode tiles take a panel group's four panels together (panel_layout.h): four streams, as
// the AVX-512 table's tiles read, where they read one panel after the other. And the hardware
// prefetcher alone serves them slowly: each fetches this far ahead (12 Q4_0 blocks, 3.4 KB).
// Batch-1 decode with the AVX2 table, 2 threads, Intel Xeon, interleaved A/B (3 of 3 rounds
// each): mistral-mini Q4_0 0.73× the time, Q8_0 0.74×; mixtral-mini 0.73× and 0.735×; 1
// thread Q4_0 0.735×; batch 2 0.76×. Against 12 blocks ahead: 4 took 1.01–1.03× the time, 8
// 1.01×, 16 1.01–1.04×, 24 1.06–1.09×; two panels a tile 1.09–1.10× four. (On Zen 5, with one
// panel a tile, 24 blocks ahead had made Q4_0 steps 25–35% shorter than none.)
static const int DECODE_PANELS = 4;
static const int PREFETCH_BYTES = 12 * Q4_PANEL_BLOCK;

// A prefill's copy of a Q4_0 panel (panel_source), as quant_avx512.cpp makes: a block of it,
// COPY_BLOCK bytes, holds 16 f16 scales, padding, then the unpacked (lo, hi) vectors of group
// j, half h, 64-aligned. 256-token prefill with the AVX2 table, 2 threads, Intel Xeon,
// interleaved A/B, 3 of 3 rounds: mistral-mini Q4_0 0.96× the time, mixtral-mini 0.94×. (Q8_0
// copying its sign trick's two vectors, 1 KB a block, took 1.18×.)
static const int COPY_BYTES = 64, COPY_BLOCK = COPY_BYTES + 16 * 32;

// Panels i … i + MP − 1 of ps (two vectors of 8 rows each) against NT tokens, block by block
// (kernels.h), the MP panels' blocks b in turn. The copy sources hold one panel (MP = 1).
template <bool Q4, panel_source S, int MP, int NT>
AVX2_FN static void quant_tile(float* y, int64_t ldy, const qact_rows& x, int t0, const tensor& w, const panel_set& ps,
                               int i, uint8_t* copy) {
    constexpr bool COPY = S == panel_source::copy, TO_COPY = S == panel_source::stored_to_copy;
    static_assert(MP == 1 || S == panel_source::stored, "a copy holds one panel");
    const int64_t nb = x.nb;
    const int block_bytes = COPY ? COPY_BLOCK : Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    const block_q8_act* xs[NT];
    for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t);
    __m256 acc[MP][2][NT];
    for (auto& u : acc)
        for (auto& v : u)
            for (auto& a : v) a = _mm256_setzero_ps();
    const uint8_t* panel[MP];
    for (int p = 0; p < MP; p++) panel[p] = COPY ? copy : (const uint8_t*)w.data + ps.at(i + p) * nb * block_bytes;
    __m256i* out = (__m256i*)copy;  // stored_to_copy: the next vector of the copy
    const __m256i low4 = _mm256_set1_epi8(0x0F), bias = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++)
        for (int p = 0; p < MP; p++) {
            const uint8_t* blk = panel[p] + b * block_bytes;
            // Decode tiles, and a call's first token tile, the one that brings the panel from
            // memory (as quant_avx512.cpp's): 256-token prefill with the AVX2 table, 2
            // threads, Intel Xeon, interleaved A/B: mistral-mini Q8_0 0.96× the time (3 of 3
            // rounds), mixtral-mini Q8_0 0.92× (3 of 3), Q4_0 0.95× (2 of 3), mistral-mini
            // Q4_0 1.01–1.02× (1 of 9: its copy's first tile the one loser); batch-16 decode
            // mistral-mini Q8_0 0.85× (4 of 4; 1 thread 0.87×), Q4_0 0.97× (4 of 4),
            // mixtral-mini Q8_0 0.96× (4 of 4), Q4_0 1.00×.
            if (!COPY && (NT <= 2 || t0 == 0))
                for (int l = 0; l < block_bytes; l += 64) _mm_prefetch((const char*)blk + PREFETCH_BYTES + l, _MM_HINT_T0);
            const uint8_t* q = blk + (COPY ? COPY_BYTES : 2 * PANEL_ROWS);
            const __m256i* v_copy = (const __m256i*)q;
            if constexpr (TO_COPY) {
                _mm256_store_si256(out, _mm256_loadu_si256((const __m256i*)blk));
                out += COPY_BYTES / 32;
            }
            __m256i s[2][NT];
            for (int h = 0; h < 2; h++)
                for (int t = 0; t < NT; t++) s[h][t] = _mm256_set1_epi32(Q4 ? xs[t][b].start_q4 : 0);
            if constexpr (Q4) {
                // A block's 8 maddubs pairs summed in int16 first, one madd after: |sum| ≤
                // 8·2·15·127 = 30480 < 2^15, exact, and a third of the instructions of widening each.
                // One half (8 rows) at a time, its groups in a loop GCC keeps rolled, so that the
                // half's NT int16 sums, two weight vectors and a broadcast fit the 16 registers:
                // with both halves unrolled GCC had spilled half the sums, a load and a store a
                // step (and with the halves inner, hoisted every broadcast and spilled those).
                // --isa avx2, 2 threads, Intel Xeon, interleaved A/B (5 of 5 pairs each): 256-token
                // prefill of mistral-mini Q4_0 0.79× the time, mixtral-mini 0.84×; batch-16 decode
                // step 0.78×, batch 4 0.97×, batch 1 within noise (0.98× and 1/1.004).
                UNROLL_TILE for (int h = 0; h < 2; h++) {
                    __m256i p16[NT];
                    UNROLL_TILE for (int t = 0; t < NT; t++) p16[t] = _mm256_setzero_si256();
                    _Pragma("GCC unroll 1") for (int j = 0; j < 4; j++) {
                        __m256i lo, hi;
                        const int at = 2 * (2 * j + h);  // the copy's vectors: (lo, hi) of group j, half h
                        if constexpr (COPY) {
                            lo = _mm256_load_si256(v_copy + at), hi = _mm256_load_si256(v_copy + at + 1);
                        } else {
                            const __m256i v = _mm256_loadu_si256((const __m256i*)(q + j * 64 + h * 32));
                            lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                        }
                        if constexpr (TO_COPY) _mm256_store_si256(out + at, lo), _mm256_store_si256(out + at + 1, hi);
                        UNROLL_TILE for (int t = 0; t < NT; t++) {
                            p16[t] = _mm256_add_epi16(p16[t], _mm256_maddubs_epi16(lo, group(xs[t][b], j)));
                            p16[t] = _mm256_add_epi16(p16[t], _mm256_maddubs_epi16(hi, group(xs[t][b], j + 4)));
                        }
                    }
                    UNROLL_TILE for (int t = 0; t < NT; t++) s[h][t] = _mm256_add_epi32(s[h][t], _mm256_madd_epi16(p16[t], _mm256_set1_epi16(1)));
                }
                if constexpr (TO_COPY) out += (COPY_BLOCK - COPY_BYTES) / 32;  // past the block's 16 vectors
            } else {
                for (int g = 0; g < 8; g++)
                    for (int h = 0; h < 2; h++) {
                        const __m256i ws = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(q + g * 64 + h * 32)), bias);
                        const __m256i wa = _mm256_sign_epi8(ws, ws);
                        for (int t = 0; t < NT; t++) s[h][t] = dot4(s[h][t], wa, ws, group(xs[t][b], g));
                    }
            }
            for (int h = 0; h < 2; h++) {
                const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(blk + 16 * h)));
                for (int t = 0; t < NT; t++)
                    acc[p][h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h][t]), _mm256_mul_ps(dw, _mm256_set1_ps(xs[t][b].d)), acc[p][h][t]);
            }
        }
    for (int p = 0; p < MP; p++)
        for (int h = 0; h < 2; h++) {
            const int64_t r = ps.at(i + p) * PANEL_ROWS + 8 * h;
            for (int t = 0; r < w.rows && t < NT; t++) store_lanes(y + (t0 + t) * ldy + r, acc[p][h][t], w.rows - r);
        }
}

// Decode on AMD family 19h (DECODE_TILES_FETCH false: Zen 4, and Zen 3, which runs this
// table): a panel group's four panels against NT = 1 or 2 tokens, a block's half (8 rows) at a
// time, the four panels interleaved group by group (each broadcast activation group feeds the
// four), their integer sums in registers and the float accumulators in memory (each is
// updated once a block; in registers they would push the sums out of the 16), nothing fetched
// ahead. The same exact integer sums and the same float steps a block as quant_tile's: the
// same bits. quant_tile<…, 4, 1> had kept its panels' loop rolled and its accumulators on
// the stack: hot in L2 it read Q4_0 at 25–27 GB/s on one Zen 4 thread, under the memory's
// ~31, where this tile reads 33–36 (a harness of the kernel, a 590 KB matrix).
// GCC's schedule needs the group loop rolled: unrolled, it computed all 64 products of a half
// first and spilled them; both halves at once spilled 4 of the 8 sums. Batch-1 step with
// --isa avx2 on Zen 4 against quant_tile fetching 12 blocks ahead (bench:ab --both-orders,
// 30–40 pairs each way): mistral-mini Q8_0 0.745× the time at 1 thread, 0.880× at 2;
// mixtral-mini Q8_0 0.714× at 1; Q4_0 0.903× and 0.901× at 1, mixtral-mini 0.916× at 2. This
// tile fetching 12 blocks ahead as quant_tile does: 1.25× its time without (Q4_0); quant_tile
// without its fetches: Q8_0 1.48×, Q4_0 0.96×. Zen 4's page fetch (fetch_next_page) here:
// 0.991–1.024×, left out. Calls of 2–12 tokens (Q4_0: 3–8), in pairs, against quant_tile's
// 2-token tiles and their fetches: Q8_0 batch 2 0.863× (2 threads), 4 0.857× (1), 12 0.871×
// (2), mixtral-mini batch 16 (~4 tokens an expert) 0.880× (2); Q4_0 batch 4 0.930×, 8 0.886×
// (1), mixtral-mini batch 16 0.891× (2); but Q4_0 batch 2 1.001× at 1 thread, 1.059× at 2 (one
// pass, no reuse from L2), which stays quant_tile's. Intel and Zen 5, not measured with it,
// keep quant_tile.
template <bool Q4, int NT>
AVX2_FN static void decode_tile(float* y, int64_t ldy, const qact_rows& x, int t0, const tensor& w, const panel_set& ps, int i) {
    constexpr int block_bytes = Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    const int64_t nb = x.nb;
    const block_q8_act* xs[NT];
    for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t);
    const uint8_t* panel[DECODE_PANELS];
    for (int p = 0; p < DECODE_PANELS; p++) panel[p] = (const uint8_t*)w.data + ps.at(i + p) * nb * block_bytes;
    alignas(32) float acc[DECODE_PANELS][2][NT][8] = {};
    const __m256i low4 = _mm256_set1_epi8(0x0F), bias = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t* blk[DECODE_PANELS];
        UNROLL_TILE for (int p = 0; p < DECODE_PANELS; p++) blk[p] = panel[p] + b * block_bytes;
        UNROLL_TILE for (int h = 0; h < 2; h++) {
            __m256i s[DECODE_PANELS][NT];
            UNROLL_TILE for (auto& u : s) UNROLL_TILE for (auto& v : u) v = _mm256_setzero_si256();
            if constexpr (Q4) {
                // int16 sums (quant_tile's p16), widened once a block
                _Pragma("GCC unroll 1") for (int j = 0; j < 4; j++) {
                    __m256i xl[NT], xh[NT];
                    UNROLL_TILE for (int t = 0; t < NT; t++) xl[t] = group(xs[t][b], j), xh[t] = group(xs[t][b], j + 4);
                    UNROLL_TILE for (int p = 0; p < DECODE_PANELS; p++) {
                        const __m256i v = _mm256_loadu_si256((const __m256i*)(blk[p] + 2 * PANEL_ROWS + j * 64 + h * 32));
                        const __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                        UNROLL_TILE for (int t = 0; t < NT; t++) {
                            s[p][t] = _mm256_add_epi16(s[p][t], _mm256_maddubs_epi16(lo, xl[t]));
                            s[p][t] = _mm256_add_epi16(s[p][t], _mm256_maddubs_epi16(hi, xh[t]));
                        }
                    }
                }
                UNROLL_TILE for (int t = 0; t < NT; t++) {
                    const __m256i start = _mm256_set1_epi32(xs[t][b].start_q4);
                    UNROLL_TILE for (auto& u : s) u[t] = _mm256_add_epi32(start, _mm256_madd_epi16(u[t], _mm256_set1_epi16(1)));
                }
            } else {
                _Pragma("GCC unroll 1") for (int g = 0; g < 8; g++) {
                    __m256i xg[NT];
                    UNROLL_TILE for (int t = 0; t < NT; t++) xg[t] = group(xs[t][b], g);
                    UNROLL_TILE for (int p = 0; p < DECODE_PANELS; p++) {
                        const __m256i ws = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(blk[p] + 2 * PANEL_ROWS + g * 64 + h * 32)), bias);
                        const __m256i wa = _mm256_sign_epi8(ws, ws);
                        UNROLL_TILE for (int t = 0; t < NT; t++) s[p][t] = dot4(s[p][t], wa, ws, xg[t]);
                    }
                }
            }
            UNROLL_TILE for (int p = 0; p < DECODE_PANELS; p++) {
                const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(blk[p] + 16 * h)));
                UNROLL_TILE for (int t = 0; t < NT; t++)
                    _mm256_store_ps(acc[p][h][t], _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[p][t]), _mm256_mul_ps(dw, _mm256_set1_ps(xs[t][b].d)),
                                                                  _mm256_load_ps(acc[p][h][t])));
            }
        }
    }
    for (int p = 0; p < DECODE_PANELS; p++)
        for (int h = 0; h < 2; h++) {
            const int64_t r = ps.at(i + p) * PANEL_ROWS + 8 * h;
            for (int t = 0; r < w.rows && t < NT; t++) store_lanes(y + (t0 + t) * ldy + r, _mm256_load_ps(acc[p][h][t]), w.rows - r);
        }
}

// Tokens [t, T) of panels i … i + MP − 1 of ps: tiles of NT, then of 2 and 1.
template <bool Q4, panel_source S, int MP, int NT>
AVX2_FN static void quant_tokens(float* y, int64_t ldy, const qact_rows& x, int t, int T, const tensor& w, const panel_set& ps,
                                 int i, uint8_t* copy) {
    for (; t + NT <= T; t += NT) quant_tile<Q4, S, MP, NT>(y, ldy, x, t, w, ps, i, copy);
    for (; t + 2 <= T; t += 2) quant_tile<Q4, S, MP, 2>(y, ldy, x, t, w, ps, i, copy);
    if (t < T) quant_tile<Q4, S, MP, 1>(y, ldy, x, t, w, ps, i, copy);
}

// Prefill tiles of more tokens share each weight vector's unpacking (Q8_0's sign trick, Q4_0's
// nibbles) among more of them, though their accumulators no longer all fit the 16 registers:
// 256-token prefill of mistral-mini with the AVX2 table (2 threads, Intel Xeon, interleaved
// A/B, 3 of 3 rounds each), against 2-token tiles: Q8_0 in 3-token tiles 0.84× the time (4:
// 1.05× of 3), Q4_0 in 4-token tiles 0.92× (3: 0.99×); mixtral-mini 0.86× and 0.92×.
// Up to PAIRS_TOKENS tokens (batched decode, short chunks) take the decode tiles instead, two
// tokens a pass: the first pass streams the four panels from memory, the later ones find them
// in L2 (74 KB for 2,048-wide rows). Against those 1-panel tiles, mistral-mini, 2 threads, Intel
// Xeon, interleaved A/B (3 of 3 rounds): batch 3 Q4_0 0.87× the time, Q8_0 0.57×; batch 4 0.825×,
// 0.69×; batch 6 0.92× (2 of 3), 0.76×; batch 8 0.97×, 0.82×; Q8_0 batch 12 0.93×; mixtral-mini
// batch 4 0.99×, 0.905×; 1 thread batch 4 Q4_0 0.81×. Beyond, the copy tiles win: Q4_0 batch 12
// 1.055×, 16 1.09×; Q8_0 batch 16 1.01×.
template <bool Q4>
AVX2_FN static void quant_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    constexpr int PREFILL_TOKENS = Q4 ? 4 : 3, PAIRS_TOKENS = Q4 ? 8 : 12;
    constexpr panel_source STORED = panel_source::stored;
    int i = 0;
    if (!DECODE_TILES_FETCH && T <= PAIRS_TOKENS && !(Q4 && T == 2))  // decode_tile's measurements
        for (; i + DECODE_PANELS <= ps.n; i += DECODE_PANELS) {
            int t = 0;
            for (; t + 2 <= T; t += 2) decode_tile<Q4, 2>(y, ldy, x, t, w, ps, i);
            if (t < T) decode_tile<Q4, 1>(y, ldy, x, t, w, ps, i);
        }
    if (T <= PAIRS_TOKENS)
        for (; i + DECODE_PANELS <= ps.n; i += DECODE_PANELS) quant_tokens<Q4, STORED, DECODE_PANELS, 2>(y, ldy, x, 0, T, w, ps, i, nullptr);
    uint8_t* copy = Q4 && T >= 2 * PREFILL_TOKENS ? thread_copy_buffer((size_t)x.nb * COPY_BLOCK) : nullptr;
    for (; i < ps.n; i++) {
        if (!copy) {
            quant_tokens<Q4, STORED, 1, PREFILL_TOKENS>(y, ldy, x, 0, T, w, ps, i, nullptr);
            continue;
        }
        quant_tile<Q4, panel_source::stored_to_copy, 1, PREFILL_TOKENS>(y, ldy, x, 0, w, ps, i, copy);
        quant_tokens<Q4, panel_source::copy, 1, PREFILL_TOKENS>(y, ldy, x, PREFILL_TOKENS, T, w, ps, i, copy);
    }
}

AVX2_FN void avx2_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w,
                                      const panel_set& ps) {
    if (w.dtype == DT_Q8_0) quant_panels<false>(y, ldy, x, T, w, ps);
    else quant_panels<true>(y, ldy, x, T, w, ps);
}

// 10 independent chains of maddubs + add (16-bit): the Q4_0 tiles' inner step. Each chain's
// bytes are its own sum so far: with fixed operands the compiler hoists the products out of
// the loop and the probe times additions (it did: "3,700 GOP/s" at 2 threads on an Intel Xeon).
AVX2_FN double avx2_int8_probe(int64_t iters, int32_t* sink) {
    __m256i a[10];
    UNROLL_TILE for (int j = 0; j < 10; j++) a[j] = _mm256_set1_epi16((short)j);
    const __m256i u = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < iters; i++)
        UNROLL_TILE for (int j = 0; j < 10; j++) a[j] = _mm256_add_epi16(a[j], _mm256_maddubs_epi16(u, a[j]));
    __m256i s = a[0];
    UNROLL_TILE for (int j = 1; j < 10; j++) s = _mm256_add_epi16(s, a[j]);
    *sink += hsum_epi32(_mm256_madd_epi16(s, _mm256_set1_epi16(1)));
    return 2.0 * 32 * 10 * (double)iters;
}
#endif
