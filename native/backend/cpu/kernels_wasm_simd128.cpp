// WASM SIMD128 float kernels: the AVX2 table's plan on 4-lane vectors, a mul and an add for
// each fma (wasm_simd128_common.h). Built only for wasm32 (native/wasm/build.mjs).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__wasm_simd128__)
#include "wasm_simd128_common.h"

// One tile: panel p (4 vectors of 4 rows) against NT tokens, each output one chain along k.
// 4·NT accumulators and 4 weight vectors: V8 has 16 vector registers (two panels a tile for
// one token spilled, and measured no faster).
template <int D, int NT>
static void float_tile(float* y, int64_t ldy, const act_rows& x, int t0, const tensor& w, int64_t p) {
    const int64_t K = w.cols;
    const float* xs[NT];
    for (int t = 0; t < NT; t++) xs[t] = x.row(t0 + t);
    v128_t acc[4][NT];
    for (auto& v : acc)
        for (auto& a : v) a = wasm_f32x4_splat(0);
    for (int64_t k = 0; k < K; k++) {
        v128_t wv[4];
        for (int h = 0; h < 2; h++) load8<D>(w.data, (p * K + k) * PANEL_ROWS + 8 * h, &wv[2 * h], &wv[2 * h + 1]);
        for (int t = 0; t < NT; t++) {
            const v128_t xb = wasm_f32x4_splat(xs[t][k]);
            for (int h = 0; h < 4; h++) acc[h][t] = madd4(wv[h], xb, acc[h][t]);
        }
    }
    for (int h = 0; h < 4; h++) {
        const int64_t r = p * PANEL_ROWS + 4 * h;
        for (int t = 0; r < w.rows && t < NT; t++) store_lanes(y + (t0 + t) * ldy + r, acc[h][t], w.rows - r);
    }
}

template <int D, int NT>
static void float_tokens(float* y, int64_t ldy, const act_rows& x, int t0, int n, const tensor& w, int64_t p) {
    if constexpr (NT > 1)
        if (n < NT) return float_tokens<D, NT - 1>(y, ldy, x, t0, n, w, p);
    float_tile<D, NT>(y, ldy, x, t0, w, p);
}

template <int D>
static void float_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    for (int i = 0; i < ps.n; i++)
        for (int t = 0; t < T; t += 3) float_tokens<D, 3>(y, ldy, x, t, std::min(3, T - t), w, ps.at(i));
}

void wasm_simd128_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    switch (w.dtype) {
        case DT_F32: return float_panels<DT_F32>(y, ldy, x, T, w, ps);
        case DT_F16: return float_panels<DT_F16>(y, ldy, x, T, w, ps);
        case DT_BF16: return float_panels<DT_BF16>(y, ldy, x, T, w, ps);
        default: return;
    }
}

void wasm_simd128_axpy(float* y, float a, const float* x, int n) {
    const v128_t av = wasm_f32x4_splat(a);
    int k = 0;
    for (; k + 4 <= n; k += 4) wasm_v128_store(y + k, madd4(av, wasm_v128_load(x + k), wasm_v128_load(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

// Elements [i, i + 4) of x and u through exp4; a tail of fewer than 4 through a zero-padded
// copy, so each element's bits do not depend on where the call's vectors start.
template <typename F>
static void by_vectors(int64_t n, F&& f) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) f(i, 4);
    if (i < n) f(i, (int)(n - i));
}
static inline v128_t load_part(const float* p, int n) {
    if (n == 4) return wasm_v128_load(p);
    alignas(16) float part[4] = {};
    for (int i = 0; i < n; i++) part[i] = p[i];
    return wasm_v128_load(part);
}

float wasm_simd128_softmax_exp(float* x, int n, float* max) {
    const float m = *max = max_lanes8(x, n);
    const v128_t mv = wasm_f32x4_splat(m);
    v128_t sum = wasm_f32x4_splat(0);
    by_vectors(n, [&](int64_t j, int len) {
        v128_t e = exp4(wasm_f32x4_sub(load_part(x + j, len), mv));
        if (len < 4) e = wasm_v128_and(e, wasm_i32x4_gt(wasm_i32x4_splat(len), wasm_i32x4_make(0, 1, 2, 3)));
        store_lanes(x + j, e, len);
        sum = wasm_f32x4_add(sum, e);
    });
    return hsum4(sum);
}

void wasm_simd128_silu_mul(float* g, const float* u, int64_t n) {
    const v128_t one = wasm_f32x4_splat(1.0f);
    by_vectors(n, [&](int64_t i, int len) {
        const v128_t v = load_part(g + i, len);
        const v128_t e = exp4(wasm_f32x4_neg(v));
        store_lanes(g + i, wasm_f32x4_mul(wasm_f32x4_div(v, wasm_f32x4_add(one, e)), load_part(u + i, len)), len);
    });
}

// 8 independent chains of a mul and an add (what this table does for an fma): the probe
// counts 2 operations per lane per pair, like the fma probes. Each chain starts from its own
// value, or the compiler may compute one chain for all eight.
double wasm_simd128_fma_probe(int64_t iters, float* sink) {
    v128_t a[8];
    for (int j = 0; j < 8; j++) a[j] = wasm_f32x4_splat(1.0f + j);
    const v128_t m = wasm_f32x4_splat(0.999999f), c = wasm_f32x4_splat(1e-6f);
    for (int64_t i = 0; i < iters; i++)
        for (auto& v : a) v = madd4(v, m, c);
    v128_t s = a[0];
    for (int j = 1; j < 8; j++) s = wasm_f32x4_add(s, a[j]);
    *sink += hsum4(s);
    return 2.0 * 4 * 8 * (double)iters;
}
#endif
