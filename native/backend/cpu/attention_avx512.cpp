// AVX-512 attention kernels (kernels.h): each key or value row is loaded once for all the
// query heads that share it, 16 elements of head_dim to a vector (a masked tail for the rest).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx512_common.h"

// Elements [d, d + 16) of a row (those below D) as f32: kv_elem's numbers. Whole vectors
// load unmasked: a masked load that misses the cache measured several times slower on Zen 5
// (the value pass over 4,096 cold f16 rows: 14 ms masked, 6 ms not).
template <kv_dtype_t R>
AVX512_FN static inline __m512 load_row(const void* row, int D, int d, __mmask16 m) {
    if constexpr (R == KV_Q8_0) {
        if (m == 0) return _mm512_setzero_ps();  // a pass's columns past D (no scale there)
        const int8_t* q = (const int8_t*)row + d;
        const __m128i b = m == 0xFFFF ? _mm_loadu_si128((const __m128i*)q) : _mm_maskz_loadu_epi8(m, q);
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), _mm512_set1_ps(kv_q8_scales(row, D)[d / QK]));
    }
    if (m == 0xFFFF) {
        if (R == KV_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)((const uint16_t*)row + d)));
        return _mm512_loadu_ps((const float*)row + d);
    }
    if (R == KV_F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t*)row + d));
    return _mm512_maskz_loadu_ps(m, (const float*)row + d);
}

// The sums of 16 vectors, lane i = Σ a[i], each summed in the order of _mm512_reduce_add_ps
// (lanes i and i+8, then i+4, i+2, i+1) at a quarter of its cost.
AVX512_FN static inline __m512 reduce16(const __m512* a) {
    __m512 b[8], c[4], d[2];
    for (int p = 0; p < 8; p++)  // [a lanes 0-7 + 8-15 | a' lanes 0-7 + 8-15]
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0x44), _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0xEE));
    for (int p = 0; p < 4; p++)  // four vectors' 4-lane partials, a 128-bit lane each
        c[p] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], 0x88), _mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], 0xDD));
    for (int p = 0; p < 2; p++)
        d[p] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * p], c[2 * p + 1], 0x44), _mm512_shuffle_ps(c[2 * p], c[2 * p + 1], 0xEE));
    const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
    // e holds Σ a[4m + k] at lane 4k + m.
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), e);
}

// The G × K products of one 16-element slice of head_dim (m masks a tail).
template <int G, int K, kv_dtype_t R>
AVX512_FN static inline void scores_slice(__m512* acc, const float* q, int D, const void* const* key, int d, __mmask16 m) {
    __m512 kv[K];
    for (int c = 0; c < K; c++) kv[c] = load_row<R>(key[c], D, d, m);
    for (int r = 0; r < G; r++) {
        const __m512 qv = _mm512_maskz_loadu_ps(m, q + r * D + d);
        for (int c = 0; c < K; c++) acc[r * K + c] = _mm512_fmadd_ps(kv[c], qv, acc[r * K + c]);
    }
}

// 16 / G keys at a time against all G heads, 16 accumulators (head r, key c at r·K + c) reduced
// together. A key's score does not depend on which keys share its step (a short last step
// repeats the last key), so every split of the keys gives the same numbers.
template <int G, kv_dtype_t R, int HD>
AVX512_FN static void scores(float* s, int64_t lds, const float* q, int D_, const attn_rows& rows, float scale) {
    constexpr int K = 16 / G;
    const int D = head_dim<HD>(D_), n = rows.n, D16 = D / 16 * 16, ahead = attn_rows_ahead(rows, D);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int j = 0; j < n; j += K) {
        const void* key[K];
        for (int c = 0; c < K; c++) key[c] = rows.keys[std::min(j + c, n - 1)];
        for (int c = 0; c < K; c++)
            attn_fetch<2, R>(rows.keys, n, rows.values, n, j + c + ahead, D);
        __m512 acc[16];
        for (int a = 0; a < 16; a++) acc[a] = _mm512_setzero_ps();
        for (int d = 0; d < D16; d += 16) scores_slice<G, K, R>(acc, q, D, key, d, 0xFFFF);
        if (D16 < D) scores_slice<G, K, R>(acc, q, D, key, D16, tail_mask(D, D16));
        const __m512 sum = _mm512_mul_ps(_mm512_set1_ps(scale), reduce16(acc));
        const __mmask16 valid = (__mmask16)((1u << std::min(K, n - j)) - 1);
        for (int r = 0; r < G; r++)  // head r's K scores, lanes r·K.., to s[r·lds + j..]
            _mm512_mask_storeu_ps(s + r * lds + j, valid, _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_set1_epi32(r * K), lane), sum));
    }
}

template <int G, kv_dtype_t R>
AVX512_FN static void scores_by_dim(float* s, int64_t lds, const float* q, int D, const attn_rows& rows, float scale) {
    if (D == 128) return scores<G, R, 128>(s, lds, q, D, rows, scale);
    if (D == 64) return scores<G, R, 64>(s, lds, q, D, rows, scale);
    scores<G, R, 0>(s, lds, q, D, rows, scale);
}

template <int G>
AVX512_FN static void scores(float* s, int64_t lds, const float* q, int D, const attn_rows& rows, float scale) {
    if (rows.dtype == KV_F16) return scores_by_dim<G, KV_F16>(s, lds, q, D, rows, scale);
    if (rows.dtype == KV_Q8_0) return scores_by_dim<G, KV_Q8_0>(s, lds, q, D, rows, scale);
    scores<G, KV_F32, 0>(s, lds, q, D, rows, scale);
}

// G query heads in parts of 16, 8, 4, 2, 1 (kernels_isa.h: head_part).
AVX512_FN void avx512_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for (int r = 0, n; r < G; r += n) {
        float* sr = s + r * lds;
        const float* qr = q + r * D;
        n = head_part(G - r, 16);
        if (n == 16) scores<16>(sr, lds, qr, D, rows, scale);
        else if (n == 8) scores<8>(sr, lds, qr, D, rows, scale);
        else if (n == 4) scores<4>(sr, lds, qr, D, rows, scale);
        else if (n == 2) scores<2>(sr, lds, qr, D, rows, scale);
        else scores<1>(sr, lds, qr, D, rows, scale);
    }
}

AVX512_FN float avx512_softmax_exp(float* x, int n, float* max) {
    __m512 top = _mm512_set1_ps(x[0]);
    for (int j = 0; j < n; j += 16) {
        const __mmask16 k = tail_mask(n, j);
        top = _mm512_mask_max_ps(top, k, top, _mm512_maskz_loadu_ps(k, x + j));
    }
    const float m = *max = _mm512_reduce_max_ps(top);
    const __m512 mv = _mm512_set1_ps(m);
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        const __mmask16 k = tail_mask(n, j);
        const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), mv)));
        _mm512_mask_storeu_ps(x + j, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

// Columns [d0, d0 + 16·C) of the G outputs held in registers (in o between runs) while a run
// of values streams by, for each run in turn (kernels_isa.h: ATTN_VALUE_RUN).
template <int G, int C, kv_dtype_t R, int HD>
AVX512_FN static void values(float* o, const float* w, int64_t ldw, int D_, const attn_rows& vr) {
    const void* const* rows = vr.values;
    const int D = head_dim<HD>(D_), n = vr.n, ahead = attn_rows_ahead(vr, D);
    for (int j0 = 0; j0 < n; j0 += ATTN_VALUE_RUN) {
        const int j1 = std::min(n, j0 + ATTN_VALUE_RUN);
        for (int d0 = 0; d0 < D; d0 += 16 * C) {
            __mmask16 m[C];
            for (int c = 0; c < C; c++) m[c] = d0 + 16 * c < D ? tail_mask(D, d0 + 16 * c) : 0;
            __m512 acc[G][C];
            for (int r = 0; r < G; r++)
                for (int c = 0; c < C; c++) acc[r][c] = _mm512_maskz_loadu_ps(m[c], o + r * D + d0 + 16 * c);
            for (int j = j0; j < j1; j++) {
                if (d0 == 0)  // once a row, in a run's first slice
                    attn_fetch<2, R>(rows, n, vr.next_keys, vr.n_next, j + ahead, D);
                __m512 v[C];
                for (int c = 0; c < C; c++) v[c] = load_row<R>(rows[j], D, d0 + 16 * c, m[c]);
                for (int r = 0; r < G; r++) {
                    const __m512 wb = _mm512_set1_ps(w[r * ldw + j]);
                    for (int c = 0; c < C; c++) acc[r][c] = _mm512_fmadd_ps(v[c], wb, acc[r][c]);
                }
            }
            for (int r = 0; r < G; r++)
                for (int c = 0; c < C; c++) _mm512_mask_storeu_ps(o + r * D + d0 + 16 * c, m[c], acc[r][c]);
        }
    }
}

template <int G, int C, kv_dtype_t R>
AVX512_FN static void values_by_dim(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows) {
    if (D == 128) return values<G, C, R, 128>(o, w, ldw, D, rows);
    if (D == 64) return values<G, C, R, 64>(o, w, ldw, D, rows);
    values<G, C, R, 0>(o, w, ldw, D, rows);
}

template <int G, int C>
AVX512_FN static void values(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows) {
    if (rows.dtype == KV_F16) return values_by_dim<G, C, KV_F16>(o, w, ldw, D, rows);
    if (rows.dtype == KV_Q8_0) return values_by_dim<G, C, KV_Q8_0>(o, w, ldw, D, rows);
    values<G, C, KV_F32, 0>(o, w, ldw, D, rows);
}

// G query heads in parts of 8, 4, 2, 1.
AVX512_FN void avx512_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for (int r = 0, n; r < G; r += n) {
        float* orow = o + r * D;
        const float* wr = w + r * ldw;
        n = head_part(G - r, 8);
        if (n == 8) values<8, 2>(orow, wr, ldw, D, rows);
        else if (n == 4) values<4, 4>(orow, wr, ldw, D, rows);
        else if (n == 2) values<2, 8>(orow, wr, ldw, D, rows);
        else values<1, 8>(orow, wr, ldw, D, rows);
    }
}

// Attention of a few consecutive tokens at once (kernels.h: attn_tokens), ROWS = 8 or 16 query
// heads (token i's head r at row i·G + r; rows past Tg·G repeat the last and are dropped): each
// key and value row loaded and widened once for all of them, where token by token each is
// loaded once a token. Every number is the one-token kernels' own: a score is the lanes of
// scores_slice's chains over d, then reduce16, then × scale; the softmax the same max, exp16
// and lane sums as avx512_softmax_exp, here with rows in lanes (sT[p·16 + row]) and the sum of
// each row's 16 lane sums in _mm512_reduce_add_ps's order; an output the same chain over the
// rows in order, rows past a token's n skipped (masked), as `values` never reaches them.
// Where the time went token by token: widening a key, and the reduce16 of each 16 scores, for
// 4 rows (one token's heads); here for 16. A harness of one 4-token call against 512 f16 rows
// of 128 (one thread, Intel Xeon, its FMA probe 121 GFLOP/s): 39 µs, 48–58 µs token by token.
// 2,048-token prefill, 2 threads: mixtral-mini Q8_0 (64-dim heads) spent 0.69× the time in
// attention (perf: 27.8% of samples → 21.3%, its quantized matmuls' 46.9% → 52.0%), 1,024
// tokens 0.895× the time (interleaved A/B, 4 of 5 pairs); mistral-mini (128) with attn_order,
// 0.876× (4 of 4); 256 tokens 0.970× (12 of 15) and mixtral-mini within noise.

// The rows (lanes) whose token sees row p of the keys: n > p.
AVX512_FN static inline __mmask16 sees(__m512i n_of_row, int p) { return _mm512_cmpgt_epi32_mask(n_of_row, _mm512_set1_epi32(p)); }

template <int ROWS, kv_dtype_t R, int HD>
AVX512_FN static void tokens(float* const* o, float* const* stat, const float* q, int64_t ldq, int Tg, const int* n, int G, int D_,
                             const attn_rows& rows, float scale) {
    const int D = head_dim<HD>(D_), n_max = n[Tg - 1], D16 = D / 16 * 16, ahead = attn_rows_ahead(rows, D);
    // The thread's scratch (kernels_isa.h), 64-aligned: sT (n_max, 16), row ρ's score, then
    // weight, of row p at sT[p·16 + ρ]; then the rows' query vectors side by side, slice by
    // slice: qs[(d / 16 · ROWS + ρ) · 16 + d % 16] (zero past D), so that a slice's FMAs read
    // them at fixed offsets from one pointer (as rows, GCC kept their 16 addresses in vector
    // registers and moved them out a slice).
    const int slices = (D + 15) / 16;
    float* sT = (float*)thread_copy_buffer(sizeof(float) * 16 * ((size_t)n_max + slices * ROWS));
    float* qs = sT + (size_t)n_max * 16;
    alignas(64) int32_t row_n[16];
    for (int rho = 0; rho < 16; rho++) {
        const int at = std::min(rho, Tg * G - 1);  // a row past the tokens' repeats the last
        row_n[rho] = rho < Tg * G ? n[at / G] : n_max;
        if (rho < ROWS)
            for (int d = 0; d < D; d += 16)
                _mm512_store_ps(qs + (d / 16 * ROWS + rho) * 16, _mm512_maskz_loadu_ps(tail_mask(D, d), q + at / G * ldq + at % G * D + d));
    }
    const __m512i n_of_row = _mm512_load_si512(row_n);

    // Scores: one key at a time against every row.
    for (int p = 0; p < n_max; p++) {
        const void* key = rows.keys[p];
        attn_fetch<2, R>(rows.keys, n_max, rows.values, n_max, p + ahead, D);
        __m512 acc[16];
        for (int rho = 0; rho < 16; rho++) acc[rho] = _mm512_setzero_ps();
        _Pragma("GCC unroll 8") for (int d = 0; d < D16; d += 16) {
            const __m512 kv = load_row<R>(key, D, d, 0xFFFF);
            for (int rho = 0; rho < ROWS; rho++) acc[rho] = _mm512_fmadd_ps(kv, _mm512_load_ps(qs + (d / 16 * ROWS + rho) * 16), acc[rho]);
        }
        if (D16 < D) {
            const __m512 kv = load_row<R>(key, D, D16, tail_mask(D, D16));
            for (int rho = 0; rho < ROWS; rho++) acc[rho] = _mm512_fmadd_ps(kv, _mm512_load_ps(qs + (D16 / 16 * ROWS + rho) * 16), acc[rho]);
        }
        _mm512_storeu_ps(sT + p * 16, _mm512_mul_ps(_mm512_set1_ps(scale), reduce16(acc)));
    }

    // Softmax, each row over its own n.
    __m512 top = _mm512_loadu_ps(sT);  // row p = 0: every token sees it
    for (int p = 1; p < n_max; p++) top = _mm512_mask_max_ps(top, sees(n_of_row, p), top, _mm512_loadu_ps(sT + p * 16));
    __m512 lane_sum[16];  // lane_sum[l]: Σ e of rows p ≡ l (mod 16), the one-token lanes
    for (auto& v : lane_sum) v = _mm512_setzero_ps();
    for (int p = 0; p < n_max; p++) {
        const __m512 e = _mm512_maskz_mov_ps(sees(n_of_row, p), exp16(_mm512_sub_ps(_mm512_loadu_ps(sT + p * 16), top)));
        _mm512_storeu_ps(sT + p * 16, e);
        lane_sum[p % 16] = _mm512_add_ps(lane_sum[p % 16], e);
    }
    __m512 s8[8], s4[4];
    for (int l = 0; l < 8; l++) s8[l] = _mm512_add_ps(lane_sum[l], lane_sum[l + 8]);
    for (int l = 0; l < 4; l++) s4[l] = _mm512_add_ps(s8[l], s8[l + 4]);
    alignas(64) float tops[16], sums[16];
    _mm512_store_ps(tops, top);
    _mm512_store_ps(sums, _mm512_add_ps(_mm512_add_ps(s4[0], s4[2]), _mm512_add_ps(s4[1], s4[3])));
    for (int rho = 0; rho < Tg * G; rho++) stat[rho / G][2 * (rho % G)] = tops[rho], stat[rho / G][2 * (rho % G) + 1] = sums[rho];

    // Values, 16 columns at a time: the rows every token sees, then the rest row by row.
    const int n_min = n[0];
    for (int d0 = 0; d0 < D; d0 += 16) {
        const __mmask16 m = tail_mask(D, d0);
        __m512 acc[ROWS];
        for (auto& a : acc) a = _mm512_setzero_ps();
        for (int p = 0; p < n_max; p++) {
            if (d0 == 0)
                attn_fetch<2, R>(rows.values, n_max, rows.next_keys, rows.n_next, p + ahead, D);
            const __m512 v = load_row<R>(rows.values[p], D, d0, m);
            const float* w = sT + p * 16;
            if (p < n_min) {
                for (int rho = 0; rho < ROWS; rho++) acc[rho] = _mm512_fmadd_ps(v, _mm512_set1_ps(w[rho]), acc[rho]);
            } else {
                const __mmask16 k = sees(n_of_row, p);
                for (int rho = 0; rho < ROWS; rho++)
                    acc[rho] = _mm512_mask3_fmadd_ps(v, _mm512_set1_ps(w[rho]), acc[rho], (k >> rho & 1) ? 0xFFFF : 0);
            }
        }
        for (int rho = 0; rho < std::min(ROWS, Tg * G); rho++) _mm512_mask_storeu_ps(o[rho / G] + rho % G * D + d0, m, acc[rho]);
    }
}

template <int ROWS, kv_dtype_t R>
AVX512_FN static void tokens_by_dim(float* const* o, float* const* stat, const float* q, int64_t ldq, int Tg, const int* n, int G, int D,
                                    const attn_rows& rows, float scale) {
    if (D == 128) return tokens<ROWS, R, 128>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
    if (D == 64) return tokens<ROWS, R, 64>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
    tokens<ROWS, R, 0>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
}

template <int ROWS>
AVX512_FN static void tokens(float* const* o, float* const* stat, const float* q, int64_t ldq, int Tg, const int* n, int G, int D,
                             const attn_rows& rows, float scale) {
    if (rows.dtype == KV_F16) return tokens_by_dim<ROWS, KV_F16>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
    if (rows.dtype == KV_Q8_0) return tokens_by_dim<ROWS, KV_Q8_0>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
    tokens<ROWS, KV_F32, 0>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
}

AVX512_FN void avx512_attn_tokens(float* const* o, float* const* stat, const float* q, int64_t ldq, int Tg, const int* n, int G, int D,
                                  const attn_rows& rows, float scale) {
    if (Tg * G <= 8) return tokens<8>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
    tokens<16>(o, stat, q, ldq, Tg, n, G, D, rows, scale);
}
#endif
