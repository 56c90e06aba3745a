// AVX-512 VNNI integer kernels for Q8_0 / Q4_0 weights in the panel layout: one panel of 16
// rows to a vector, vpdpbusd taking the unsigned packed weights (q + 128, or the nibbles n)
// against 4 signed activation bytes broadcast to every lane. The same float operations in the
// same order as kernels_scalar.cpp (bit-identical results).
//
// Why no AMX-INT8 path for the Intel CPUs that have it: every 32-column block carries its own
// scales, so a tile product can span one block only (K = 32), and its 16 × 16 integer sums
// must go out through memory (tilestored) for the per-block float step, which is the same
// cvt, mul and fma per 16 outputs that these kernels already pay. A standalone 16-token ×
// 16-row Q8_0 tile (weights pre-signed, one tdpbssd a block, stores kept two blocks ahead of
// their loads) ran at 500–550 G int8 ops/s on one thread of an Intel Xeon with AMX, where
// tdpbssd alone peaks at 6,500 and this file's 2 × 6 tile gives 300–400 in the engine: tile
// loads, the store and the float step did not overlap. Tried again in the engine (2026-12-06,
// in avx512_amx for calls of 16 tokens or more: same bits, as the sums are exact; a work
// item's panels copied signed once, 2 × 2 tiles, activations by block, prefetched): 256-token
// prefill at 2 threads 1.00× the time of these kernels for mistral-mini Q8_0 and Q4_0, 1.21×
// for mixtral-mini (~64 tokens an expert), batch-16 decode 1.38×. What bounds it: a tilestored
// of 1 KB takes ~12 ns and overlaps no vector work (a loop of 16 rows' cvt, mul and fma went
// from 0.53 to 1.3 ns a row with one tilestored an iteration, even to another buffer), which
// caps a K = 32 product at ~650 G int8 ops/s a thread, not far over these kernels' ~450–500 in
// 256-token prefill on that host; scales over more columns (a format change) would spread it.
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx512_common.h"

// Sixteen vectors to one, lane j of the result op over the lanes of v[slot_block(j)]: the four
// shuffle levels leave the results transposed 4 × 4, so a caller that puts block slot_block(s)
// in v[s] gets block j's in lane j (the transpose is its own inverse). 15 ops and 30 shuffles
// for 16 blocks, where reducing each alone takes 4 of each.
static constexpr int slot_block(int s) { return (s % 4) * 4 + s / 4; }
AVX512_FN static inline __m512 max_ps(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
AVX512_FN static inline __m512 add_epi32(__m512 a, __m512 b) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
template <__m512 (*op)(__m512, __m512)>
AVX512_FN static inline __m512 reduce16(__m512 (&v)[16]) {
    for (int i = 0; i < 8; i++) v[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++) v[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x88), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++) v[i] = op(_mm512_shuffle_ps(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_ps(v[2 * i], v[2 * i + 1], 0xEE));
    return op(_mm512_shuffle_ps(v[0], v[1], 0x88), _mm512_shuffle_ps(v[0], v[1], 0xDD));
}

// scalar_quantize_act's d, q and sum, sixteen blocks at a time: their maxima and sums reduced
// across blocks (reduce16), so that the scale's two divisions are one vector division each,
// not two scalar ones a block (whose latency had bound AVX2's loop): 5.0 ns a block against
// AVX2's 9.4 (one thread, Intel Xeon); 256-token prefill 0.986× the time for mixtral-mini Q4_0
// (quantizing x and h had been 3.3% of it), mistral-mini Q8_0 0.977× (2 threads, interleaved
// A/B, 6 of 9 and 5 of 7 pairs). The blocks past the last sixteen go through AVX2's.
AVX512_FN void avx512_quantize_act(const float* x, int64_t n, block_q8_act* out) {
    const int64_t nb = n / QK, whole = nb / 16 * 16;
    for (int64_t b0 = 0; b0 < whole; b0 += 16, x += 16 * QK, out += 16) {
        __m512 v[16];
        for (int s = 0; s < 16; s++) {
            const float* xb = x + slot_block(s) * QK;
            v[s] = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xb)), _mm512_abs_ps(_mm512_loadu_ps(xb + 16)));
        }
        const __m512 amax = reduce16<max_ps>(v);
        const __m512 d = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
        alignas(64) float ds[16], ids[16];
        _mm512_store_ps(ds, d);
        _mm512_store_ps(ids, _mm512_maskz_div_ps(_mm512_cmpneq_ps_mask(d, _mm512_setzero_ps()), _mm512_set1_ps(1.0f), d));
        for (int s = 0; s < 16; s++) {
            const int b = slot_block(s);
            const __m512 id = _mm512_set1_ps(ids[b]);
            const int rn = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;  // ties to even, as nearbyint
            const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + b * QK), id), rn);
            const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + b * QK + 16), id), rn);
            _mm_storeu_si128((__m128i*)out[b].qs, _mm512_cvtsepi32_epi8(q0));
            _mm_storeu_si128((__m128i*)(out[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
            v[s] = _mm512_castsi512_ps(_mm512_add_epi32(q0, q1));
        }
        alignas(64) int32_t sums[16];
        _mm512_store_si512(sums, _mm512_castps_si512(reduce16<add_epi32>(v)));
        for (int b = 0; b < 16; b++) {
            out[b].d = ds[b];
            set_act_sum(out[b], sums[b]);
        }
    }
    if (whole < nb) avx2_quantize_act(x, (nb - whole) * QK, out);
}

// Activations group g of a block (4 bytes) in every lane.
AVX512_FN static inline __m512i group(const block_q8_act& x, int g) {
    int32_t v;
    __builtin_memcpy(&v, x.qs + 4 * g, 4);
    return _mm512_set1_epi32(v);
}

// A prefill's copy of a tile's panels (panel_source): the weights as bytes in Q8_0's group
// order (each Q4_0 nibble a byte), its blocks COPY_BLOCK bytes — the 16 scales widened to f32
// (the same numbers: a load for the copy tiles where the stored f16 take a 2-µop cvtph each),
// then the 512 bytes 64-aligned (stored Q8_0 blocks are 544 bytes apart, so every other load
// crosses a cache line) — and the MP panels one after another.
static const int COPY_BLOCK = 64 + 8 * 64, COPY_BYTES = 64;

// The copy tiles of a pair compute from cache, leaving the memory idle; meanwhile they bring
// the pair after it into L2, each tile a slice, so that that pair's first tile (the one that
// reads the stored panels) no longer waits on memory: in a profile of mixtral-mini Q8_0's
// 256-token prefill it had taken 3.7 copy tiles' time, 1.7 after (1.4 with its panels in L1).
// 256-token prefill, Intel Xeon, interleaved A/B: mixtral-mini Q8_0 0.96–0.98× the time at 2
// threads (13 of 16 rounds), 0.96× at 1 (4 of 4), Q4_0 0.96–0.97× (9 of 10); mistral-mini
// (43 tiles a pair, against ~11 for an expert's ~64 tokens) Q8_0 0.95–1.00×, Q4_0 ~1.00×.
// The first tile takes a slice too: with 16 tokens (a batch-16 decode step: tiles of 6, 6 and
// 4) the two copy tiles alone had left a third of the next pair to its first tile. Batch-16
// step, mistral-mini Q8_0, 2 threads, interleaved A/B: 0.893× the time (5 of 5 rounds), Q4_0
// 0.986× (5 of 5), mixtral-mini Q4_0 0.986×; 256-token prefill within noise (0.91–1.02×).
// Bytes [from, to) of each of the next two panels, per_block of them while a block computes;
// no panels: the matrix's last. first_fetches_l1: whether the first tile also fetches its own
// panels into L1 ahead of its loads (below). Not with 4 tiles a pair or fewer (decode batches
// of 12–24): there the slices cannot bring a whole pair into L2 in time, and the first tile's
// L1 fetches, gone to memory, hold the fill buffers its own loads wait on — it had taken 1.8×
// a copy tile's time at batch 16 (perf, mistral-mini Q8_0), a quarter of its samples on its
// prefetcht0s. Without them, interleaved A/B in both orders (bench:ab --both-orders),
// mistral-mini Q8_0 batch 16: 0.955× and 0.973× the time at 2 threads (21 and 18 of 22
// pairs), 0.924× at 1 (12 of 14); batch 12 1.009× and 24 0.988× (9 and 10 of 18), Q4_0 batch
// 16 1.000× (13 of 22). Prefill keeps them (256-token mistral-mini Q8_0 read slower without).
struct next_pair_fetch {
    const uint8_t* panel[2] = {nullptr, nullptr};
    int64_t from = 0, to = 0, per_block = 0;
    bool first_fetches_l1 = true;
};

// 64 bytes of weights; HALVES: as two 32-byte loads joined, as the Q8_0 tiles that leave
// fetching to the hardware (FETCH false: Zen 4) load theirs. On Zen 4 one thread reads 4
// streams 10–15% slower with 64-byte loads than with 32- or 16-byte ones (a plain read of 1
// GB, in runs minutes apart: 23.6–29.7 GB/s against 26.8–32.9); a decode step reads its
// weights as 4 streams, and every other Q8_0 block's 64-byte loads cross a cache line (blocks
// are 544 bytes). Batch-1 step, halves against whole loads (bench:ab --both-orders, Zen 4):
// mistral-mini Q8_0 0.924× and 0.942× the time at 1 thread (166 and 178 of 198 pairs), 0.959×
// twice at 2; mixtral-mini Q8_0 0.965× at 1, 0.973× at 2; batch 2 0.967×, batch 4 (the 2 × 6
// tiles) 0.991–1.004× — and with fetch_next_page (kernels_isa.h) in place, 0.970× (mistral-mini, 1
// thread), 1.001× (mixtral-mini), 0.990× (2 threads). Q4_0's tiles, with more work a byte,
// read the same either way (0.990–1.013×, with and without that fetch): they keep whole
// loads. With fetching ahead (Zen 5) halves gained nothing: the lines are in cache first.
template <bool HALVES>
AVX512_FN static inline __m512i load_weights(const uint8_t* p) {
    if constexpr (HALVES)
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)p)), _mm256_loadu_si256((const __m256i*)(p + 32)), 1);
    return _mm512_loadu_si512(p);
}

// Panels i … i + MP − 1 of ps against NT tokens, block by block: exact integer sums s (from
// −bias·Σq_x, which turns the unsigned weights back into signed ones), then one fma per block.
template <bool Q4, panel_source S, int MP, int NT, bool FETCH = true>
AVX512_FN static void quant_tile(float* y, int64_t ldy, const qact_rows& x, int t0, const tensor& w, const panel_set& ps,
                                 int i, uint8_t* copy, const next_pair_fetch& next) {
    constexpr bool COPY = S == panel_source::copy, TO_COPY = S == panel_source::stored_to_copy;
    constexpr bool NIBBLES = Q4 && !COPY;
    const int64_t nb = x.nb;
    const int block_bytes = COPY ? COPY_BLOCK : Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    const int bytes_at = COPY ? COPY_BYTES : 2 * PANEL_ROWS;  // where a block's weight bytes begin
    const int64_t ahead = (int64_t)(STREAM_FETCH_BYTES + block_bytes - 1) / block_bytes * block_bytes;
    const block_q8_act* xs[NT];
    for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t);
    __m512 acc[MP][NT];
    for (auto& v : acc)
        for (auto& a : v) a = _mm512_setzero_ps();
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const uint8_t* panel[MP];
    for (int p = 0; p < MP; p++)
        panel[p] = COPY ? copy + p * nb * COPY_BLOCK : (const uint8_t*)w.data + ps.at(i + p) * nb * block_bytes;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t* blk[MP];
        for (int p = 0; p < MP; p++) blk[p] = panel[p] + b * block_bytes;
        uint8_t* out[MP];  // stored_to_copy: this block in the copy
        if constexpr (TO_COPY)
            for (int p = 0; p < MP; p++) out[p] = copy + (p * nb + b) * COPY_BLOCK;
        // Decoding reads MP streams at once, and the hardware prefetcher alone falls behind
        // (on Intel and Zen 5; not on Zen 4, where calls of few tokens leave it alone: FETCH):
        // fetch `ahead` in each (STREAM_FETCH_BYTES in whole blocks: on Intel Q4_0 8 blocks,
        // Q8_0 4; at a panel's end, on into the one after it, the next set's panel when ps's
        // panels are a stride apart). Q8_0 too: batch-1 decode of mixtral-mini (K = 1024: 17
        // KB panels) 0.95× the time at 2 threads (4 of 4 interleaved rounds, Intel Xeon),
        // mistral-mini and 1 thread 0.99×; 4 blocks ahead gained as much as 8, 12 less. So
        // does a prefill's first token tile, the one that brings the panels from memory:
        // 256-token prefill 0.975× the time for mixtral-mini Q8_0 (3 of 3 interleaved rounds,
        // Intel Xeon, 2 threads; its experts' ~64 tokens make few tiles a panel), 0.985× Q4_0,
        // mistral-mini Q8_0 0.986×.
        if (!COPY && FETCH && (NT <= 2 || (t0 == 0 && next.first_fetches_l1)))
            for (int p = 0; p < MP; p++)
                for (int l = 0; l < block_bytes; l += 64) _mm_prefetch((const char*)blk[p] + ahead + l, _MM_HINT_T0);
        if constexpr (!COPY && !FETCH)
            for (int p = 0; p < MP; p++) fetch_next_page(blk[p], block_bytes);
        if constexpr (COPY || TO_COPY)
            if (next.panel[0])
                for (int64_t at = next.from + b * next.per_block, end = std::min(at + next.per_block, next.to); at < end; at += 64)
                    for (const uint8_t* p : next.panel) _mm_prefetch((const char*)p + at, _MM_HINT_T1);
        // Decode tiles (few pairs) keep two integer accumulators a pair, summed at the end
        // (exact): half the dependency chain. Prefill tiles have chains enough, and the
        // registers for one each only: with two (36 accumulators) the 2 × 6 tile spilled to
        // the stack in its inner loop; with one, a 256-token Q4_0 prefill took 0.877× the time
        // (mistral-mini, 2 threads, Intel Xeon, interleaved A/B, 3 of 3 rounds).
        constexpr bool SPLIT = MP * NT <= 8;
        // Decode tiles take the high nibbles where they are, 16 times their value (one op, not
        // a shift and a mask): their own sums, 16 times too and exact, go back by a shift once a
        // block. Not for a tile that writes the copy, which holds the nibbles themselves.
        constexpr bool HI16 = NIBBLES && SPLIT && !TO_COPY;
        __m512i s[MP][NT], s2[MP][NT];
        for (int t = 0; t < NT; t++) {
            const __m512i start = _mm512_set1_epi32(Q4 ? xs[t][b].start_q4 : xs[t][b].start_q8);
            for (int p = 0; p < MP; p++) s[p][t] = start, s2[p][t] = _mm512_setzero_si512();
        }
        __m512i (&s_hi)[MP][NT] = SPLIT ? s2 : s;  // where the second half of each block goes
        if constexpr (NIBBLES) {
            for (int j = 0; j < 4; j++) {
                __m512i lo[MP], hi[MP];
                for (int p = 0; p < MP; p++) {
                    const __m512i v = _mm512_loadu_si512(blk[p] + 2 * PANEL_ROWS + 64 * j);
                    lo[p] = _mm512_and_si512(v, low4);
                    hi[p] = HI16 ? _mm512_andnot_si512(low4, v) : _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
                    if constexpr (TO_COPY) {
                        _mm512_store_si512(out[p] + COPY_BYTES + 64 * j, lo[p]);
                        _mm512_store_si512(out[p] + COPY_BYTES + 64 * (j + 4), hi[p]);
                    }
                }
                for (int t = 0; t < NT; t++) {
                    const __m512i xl = group(xs[t][b], j), xh = group(xs[t][b], j + 4);
                    for (int p = 0; p < MP; p++) {
                        s[p][t] = _mm512_dpbusd_epi32(s[p][t], lo[p], xl);
                        s_hi[p][t] = _mm512_dpbusd_epi32(s_hi[p][t], hi[p], xh);
                    }
                }
            }
        } else {
            for (int g = 0; g < 8; g++) {
                __m512i wv[MP];
                for (int p = 0; p < MP; p++) {
                    wv[p] = load_weights<!COPY && !FETCH>(blk[p] + bytes_at + 64 * g);
                    if constexpr (TO_COPY) _mm512_store_si512(out[p] + COPY_BYTES + 64 * g, wv[p]);
                }
                for (int t = 0; t < NT; t++) {
                    const __m512i xg = group(xs[t][b], g);
                    for (int p = 0; p < MP; p++)
                        (g % 2 ? s_hi : s)[p][t] = _mm512_dpbusd_epi32((g % 2 ? s_hi : s)[p][t], wv[p], xg);
                }
            }
        }
        for (int p = 0; p < MP; p++) {
            const __m512 dw = COPY ? _mm512_load_ps((const float*)blk[p]) : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)blk[p]));
            if constexpr (TO_COPY) _mm512_store_ps((float*)out[p], dw);
            for (int t = 0; t < NT; t++)
                acc[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(SPLIT ? _mm512_add_epi32(s[p][t], HI16 ? _mm512_srai_epi32(s2[p][t], 4) : s2[p][t]) : s[p][t]),
                                            _mm512_mul_ps(dw, _mm512_set1_ps(xs[t][b].d)), acc[p][t]);
        }
    }
    for (int p = 0; p < MP; p++) {
        const int64_t at = ps.at(i + p);
        const int n = panel_rows(w.rows, at);
        if (n <= 0) continue;
        const __mmask16 m = (__mmask16)((1u << n) - 1);
        for (int t = 0; t < NT; t++) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + at * PANEL_ROWS, m, acc[p][t]);
    }
}

template <bool Q4, panel_source S, int MP, int NT, bool FETCH = true>
AVX512_FN static void quant_tokens(float* y, int64_t ldy, const qact_rows& x, int t0, int n, const tensor& w,
                                   const panel_set& ps, int i, uint8_t* copy = nullptr, const next_pair_fetch& next = {}) {
    if constexpr (NT > 1)
        if (n < NT) return quant_tokens<Q4, S, MP, NT - 1, FETCH>(y, ldy, x, t0, n, w, ps, i, copy, next);
    quant_tile<Q4, S, MP, NT, FETCH>(y, ldy, x, t0, w, ps, i, copy, next);
}

// Panels i … of ps by tiles that read the stored panels alone: all of a call of 1–11 tokens
// (decode: four panels a tile, four weight streams; batched decode), the last odd panel of a
// longer one. FETCH: whether they fetch ahead (DECODE_TILES_FETCH; on Zen 4 they do not, and
// a batch-4 step of mistral-mini Q8_0 took 0.716× the time at 1 thread (9 of 9 interleaved
// pairs), 0.863× at 2 (8 of 9); Q4_0 1.010× and 0.954×).
template <bool Q4, bool FETCH>
AVX512_FN static void stored_tiles(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps, int i) {
    constexpr panel_source STORED = panel_source::stored;
    if (T <= 2)
        for (; i + 4 <= ps.n; i += 4) quant_tokens<Q4, STORED, 4, 2, FETCH>(y, ldy, x, 0, T, w, ps, i);
    for (; i + 2 <= ps.n; i += 2)
        for (int t = 0; t < T; t += 6) quant_tokens<Q4, STORED, 2, 6, FETCH>(y, ldy, x, t, std::min(6, T - t), w, ps, i);
    for (; i < ps.n; i++)
        for (int t = 0; t < T; t += 6) quant_tokens<Q4, STORED, 1, 6, FETCH>(y, ldy, x, t, std::min(6, T - t), w, ps, i);
}

// Prefill (12 tokens or more): two panels against 6 tokens (12 integer and 12 float
// accumulators), the first token tile copying the two for the others: 256-token prefill 0.92×
// the time for mistral-mini Q4_0, 0.98× Q8_0, mixtral-mini (~64 tokens an expert) 0.95× and
// 0.97× (2 threads, Intel Xeon, interleaved rounds). An unpacking pass before the first tile
// instead: mixtral-mini Q4_0 1.05× (it does not overlap).
template <bool Q4>
AVX512_FN static void quant_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    if (T < 2 * 6) {
        if (DECODE_TILES_FETCH) return stored_tiles<Q4, true>(y, ldy, x, T, w, ps, 0);
        return stored_tiles<Q4, false>(y, ldy, x, T, w, ps, 0);
    }
    uint8_t* copy = thread_copy_buffer((size_t)2 * x.nb * COPY_BLOCK);
    const int64_t panel_bytes = x.nb * (Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK);
    const int64_t slice = line_slice(panel_bytes, (T + 5) / 6), per_block = line_slice(slice, x.nb);  // a tile's
    int i = 0;
    for (; i + 2 <= ps.n; i += 2) {
        int64_t next_at[2];
        next_pair_fetch next;
        if (next_panel_pair(ps, i, panel_count(w.rows), next_at))
            for (int p = 0; p < 2; p++) next.panel[p] = (const uint8_t*)w.data + next_at[p] * panel_bytes;
        next.per_block = per_block;
        next.first_fetches_l1 = T > 4 * 6;
        for (int t = 0; t < T; t += 6) {
            next.from = t / 6 * slice, next.to = std::min(next.from + slice, panel_bytes);
            if (t == 0) quant_tokens<Q4, panel_source::stored_to_copy, 2, 6>(y, ldy, x, 0, 6, w, ps, i, copy, next);
            else quant_tokens<Q4, panel_source::copy, 2, 6>(y, ldy, x, t, std::min(6, T - t), w, ps, i, copy, next);
        }
    }
    stored_tiles<Q4, true>(y, ldy, x, T, w, ps, i);
}

AVX512_FN void avx512_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w,
                                          const panel_set& ps) {
    if (w.dtype == DT_Q8_0) quant_panels<false>(y, ldy, x, T, w, ps);
    else quant_panels<true>(y, ldy, x, T, w, ps);
}

// 10 independent vpdpbusd chains: 64 int8 products each.
AVX512_FN double avx512_int8_probe(int64_t iters, int32_t* sink) {
    __m512i a[10];
    for (int j = 0; j < 10; j++) a[j] = _mm512_set1_epi32(j);  // distinct: no chain merged with another
    const __m512i u = _mm512_set1_epi8(3), x = _mm512_set1_epi8(-2);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = _mm512_dpbusd_epi32(v, u, x);
    __m512i s = a[0];
    for (int j = 1; j < 10; j++) s = _mm512_add_epi32(s, a[j]);
    *sink += _mm512_reduce_add_epi32(s);
    return 2.0 * 64 * 10 * (double)iters;
}
#endif
