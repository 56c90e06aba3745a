// AVX2 attention kernels (kernels.h), the AVX-512 ones' plan on 8-lane vectors: each key or
// value row is loaded once for all the query heads that share it; head_dim in 8s, a tail of
// fewer than 8 (odd test shapes only) through a zero-padded copy or a scalar loop.
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include "avx2_common.h"

// Elements [d, d + 8) of a row as f32: kv_elem's numbers. TAIL: d + 8 > D, and those past D
// read as 0. Whole vectors and the tail are separate instantiations, and so are passes of fewer
// vectors: a branch between them in one loop, or a pass width known at run time only, kept
// the compiler from holding the accumulators in registers. On the stack they cost 2× (one
// thread, 512 f16 rows of 128 in L2, 4 heads: scores 25 → 12 µs, values 19 → 9 µs) and the
// extra time of a step at 4,096 tokens 14.9 → 9.0 ms (mistral-mini Q4_0, --isa avx2, 2
// threads, Intel Xeon, 3 of 3 interleaved rounds). The scores' loops unroll early too
// (UNROLL_TILE, avx2_common.h): their 8 accumulators had stayed on the stack, stored every
// slice; +9.3 → +8.5 ms, mixtral-mini Q4_0 +5.6 → +5.1 (3 of 3 rounds each).
template <kv_dtype_t R, bool TAIL = false>
AVX2_FN static inline __m256 load_row8(const void* row, int D, int d) {
    if constexpr (!TAIL) {
        if (R == KV_Q8_0) {
            const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)((const int8_t*)row + d)));
            return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(kv_q8_scales(row, D)[d / QK]));
        }
        if (R == KV_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)row + d)));
        return _mm256_loadu_ps((const float*)row + d);
    }
    alignas(32) float part[8] = {};
    for (int i = d; i < D; i++) part[i - d] = kv_elem<R>(row, D, i);
    return _mm256_load_ps(part);
}


// The sums of 8 vectors, lane i = Σ a[i], each summed as hsum does (lanes i and i+4, then
// i+2, i+1).
AVX2_FN static inline __m256 reduce8(const __m256* a) {
    __m256 b[4], c[2];
    UNROLL_TILE for (int p = 0; p < 4; p++)  // [a lanes 0-3 + 4-7 | a' lanes 0-3 + 4-7]
        b[p] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * p], a[2 * p + 1], 0x20), _mm256_permute2f128_ps(a[2 * p], a[2 * p + 1], 0x31));
    UNROLL_TILE for (int p = 0; p < 2; p++)
        c[p] = _mm256_add_ps(_mm256_shuffle_ps(b[2 * p], b[2 * p + 1], 0x44), _mm256_shuffle_ps(b[2 * p], b[2 * p + 1], 0xEE));
    const __m256 e = _mm256_add_ps(_mm256_shuffle_ps(c[0], c[1], 0x88), _mm256_shuffle_ps(c[0], c[1], 0xDD));
    // e holds Σ a[2m + h] at lane 4h + m.
    return _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// The G × K products of one 8-element slice of head_dim.
template <int G, int K, kv_dtype_t R, bool TAIL = false>
AVX2_FN static inline void scores_slice(__m256* acc, const float* q, int D, const void* const* key, int d) {
    __m256 kv[K];
    UNROLL_TILE for (int c = 0; c < K; c++) kv[c] = load_row8<R, TAIL>(key[c], D, d);
    UNROLL_TILE for (int r = 0; r < G; r++) {
        const __m256 qv = load_row8<KV_F32, TAIL>(q + r * D, D, d);
        UNROLL_TILE for (int c = 0; c < K; c++) acc[r * K + c] = _mm256_fmadd_ps(kv[c], qv, acc[r * K + c]);
    }
}

// 8 / G keys at a time against all G heads, 8 accumulators (head r, key c at r·K + c) reduced
// together; a short last step repeats the last key, so every split gives the same numbers.
template <int G, kv_dtype_t R, int HD>
AVX2_FN static void scores(float* s, int64_t lds, const float* q, int D_, const attn_rows& rows, float scale) {
    constexpr int K = 8 / G;
    const int D = head_dim<HD>(D_), n = rows.n, D8 = D / 8 * 8, ahead = attn_rows_ahead(rows, D);
    for (int j = 0; j < n; j += K) {
        const void* key[K];
        for (int c = 0; c < K; c++) key[c] = rows.keys[std::min(j + c, n - 1)];
        for (int c = 0; c < K; c++)
            attn_fetch<3, R>(rows.keys, n, rows.values, n, j + c + ahead, D);
        __m256 acc[8];
        UNROLL_TILE for (int a = 0; a < 8; a++) acc[a] = _mm256_setzero_ps();
        for (int d = 0; d < D8; d += 8) scores_slice<G, K, R>(acc, q, D, key, d);
        if (D8 < D) scores_slice<G, K, R, true>(acc, q, D, key, D8);
        alignas(32) float sum[8];
        _mm256_store_ps(sum, _mm256_mul_ps(_mm256_set1_ps(scale), reduce8(acc)));
        const int valid = std::min(K, n - j);
        for (int r = 0; r < G; r++)
            for (int c = 0; c < valid; c++) s[r * lds + j + c] = sum[r * K + c];
    }
}

template <int G, kv_dtype_t R>
AVX2_FN static void scores_by_dim(float* s, int64_t lds, const float* q, int D, const attn_rows& rows, float scale) {
    if (D == 128) return scores<G, R, 128>(s, lds, q, D, rows, scale);
    if (D == 64) return scores<G, R, 64>(s, lds, q, D, rows, scale);
    scores<G, R, 0>(s, lds, q, D, rows, scale);
}

template <int G>
AVX2_FN static void scores(float* s, int64_t lds, const float* q, int D, const attn_rows& rows, float scale) {
    if (rows.dtype == KV_F16) return scores_by_dim<G, KV_F16>(s, lds, q, D, rows, scale);
    if (rows.dtype == KV_Q8_0) return scores_by_dim<G, KV_Q8_0>(s, lds, q, D, rows, scale);
    scores<G, KV_F32, 0>(s, lds, q, D, rows, scale);
}

// G query heads in parts of 8, 4, 2, 1 (kernels_isa.h: head_part).
AVX2_FN void avx2_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for (int r = 0, n; r < G; r += n) {
        float* sr = s + r * lds;
        const float* qr = q + r * D;
        n = head_part(G - r, 8);
        if (n == 8) scores<8>(sr, lds, qr, D, rows, scale);
        else if (n == 4) scores<4>(sr, lds, qr, D, rows, scale);
        else if (n == 2) scores<2>(sr, lds, qr, D, rows, scale);
        else scores<1>(sr, lds, qr, D, rows, scale);
    }
}

// Columns [d0, d0 + 8·C) of the G outputs held in registers while every value streams by.
template <int G, int C, kv_dtype_t R, int HD>
AVX2_FN static void values_pass(float* o, const float* w, int64_t ldw, int D_, const attn_rows& vr, int d0) {
    const void* const* rows = vr.values;
    const int D = head_dim<HD>(D_), n = vr.n, ahead = attn_rows_ahead(vr, D);
    __m256 acc[G][C];
    for (int r = 0; r < G; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_loadu_ps(o + r * D + d0 + 8 * c);
    for (int j = 0; j < n; j++) {
        if (d0 == 0)  // later passes find them in cache
            attn_fetch<3, R>(rows, n, vr.next_keys, vr.n_next, j + ahead, D);
        __m256 v[C];
        for (int c = 0; c < C; c++) v[c] = load_row8<R>(rows[j], D, d0 + 8 * c);
        for (int r = 0; r < G; r++) {
            const __m256 wb = _mm256_set1_ps(w[r * ldw + j]);
            for (int c = 0; c < C; c++) acc[r][c] = _mm256_fmadd_ps(v[c], wb, acc[r][c]);
        }
    }
    for (int r = 0; r < G; r++)
        for (int c = 0; c < C; c++) _mm256_storeu_ps(o + r * D + d0 + 8 * c, acc[r][c]);
}

// The last pass, of cs < C vectors.
template <int G, int C, kv_dtype_t R, int HD>
AVX2_FN static void values_rest(float* o, const float* w, int64_t ldw, int D, const attn_rows& vr, int d0, int cs) {
    if constexpr (C > 1) {
        if (cs == C - 1) return values_pass<G, C - 1, R, HD>(o, w, ldw, D, vr, d0);
        values_rest<G, C - 1, R, HD>(o, w, ldw, D, vr, d0, cs);
    }
}

// Whole passes of C vectors, the rest in one pass of fewer; columns past the last whole 8 (a
// tail) one at a time.
template <int G, int C, kv_dtype_t R, int HD>
AVX2_FN static void values(float* o, const float* w, int64_t ldw, int D_, const attn_rows& vr) {
    const void* const* rows = vr.values;
    const int D = head_dim<HD>(D_), n = vr.n, D8 = D / 8 * 8;
    int d0 = 0;
    for (; d0 + 8 * C <= D8; d0 += 8 * C) values_pass<G, C, R, HD>(o, w, ldw, D, vr, d0);
    if (d0 < D8) values_rest<G, C, R, HD>(o, w, ldw, D, vr, d0, (D8 - d0) / 8);
    for (int d = D8; d < D; d++)
        for (int r = 0; r < G; r++) {
            float acc = o[r * D + d];
            for (int j = 0; j < n; j++) acc = std::fma(w[r * ldw + j], kv_elem<R>(rows[j], D, d), acc);
            o[r * D + d] = acc;
        }
}

template <int G, int C, kv_dtype_t R>
AVX2_FN static void values_by_dim(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows) {
    if (D == 128) return values<G, C, R, 128>(o, w, ldw, D, rows);
    if (D == 64) return values<G, C, R, 64>(o, w, ldw, D, rows);
    values<G, C, R, 0>(o, w, ldw, D, rows);
}

template <int G, int C>
AVX2_FN static void values(float* o, const float* w, int64_t ldw, int D, const attn_rows& rows) {
    if (rows.dtype == KV_F16) return values_by_dim<G, C, KV_F16>(o, w, ldw, D, rows);
    if (rows.dtype == KV_Q8_0) return values_by_dim<G, C, KV_Q8_0>(o, w, ldw, D, rows);
    values<G, C, KV_F32, 0>(o, w, ldw, D, rows);
}

// G query heads in parts of 4, 2, 1.
AVX2_FN void avx2_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for (int r = 0, n; r < G; r += n) {
        float* orow = o + r * D;
        const float* wr = w + r * ldw;
        n = head_part(G - r, 4);
        if (n == 4) values<4, 2>(orow, wr, ldw, D, rows);
        else if (n == 2) values<2, 4>(orow, wr, ldw, D, rows);
        else values<1, 8>(orow, wr, ldw, D, rows);
    }
}
#endif
