// Portable kernels: the reference every other table is tested against. They define the float
// operations the SIMD tables repeat lane by lane (kernels.h): one fma chain per output along
// k, or along blocks for the quantized weights.
#include <cmath>
#include <cstring>

#include "kernels_isa.h"

template <int D>
static void float_panel(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t p) {
    const int64_t K = w.cols;
    const int n = panel_rows(w.rows, p);
    for (int t = 0; t < T; t++) {
        const float* xt = x.row(t);
        for (int lane = 0; lane < n; lane++) {
            float acc = 0;
            for (int64_t k = 0; k < K; k++) acc = std::fma(elem<D>(w.data, (p * K + k) * PANEL_ROWS + lane), xt[k], acc);
            y[t * ldy + p * PANEL_ROWS + lane] = acc;
        }
    }
}

void scalar_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    for (int i = 0; i < ps.n; i++) switch (w.dtype) {
            case DT_F32: float_panel<DT_F32>(y, ldy, x, T, w, ps.at(i)); break;
            case DT_F16: float_panel<DT_F16>(y, ldy, x, T, w, ps.at(i)); break;
            case DT_BF16: float_panel<DT_BF16>(y, ldy, x, T, w, ps.at(i)); break;
            default: break;
        }
}

void scalar_widen_row(const tensor& w, int64_t row, float* dst) { tensor_row_to_f32(w, row, dst); }

void scalar_to_f16(const float* x, uint16_t* out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = f32_to_f16(x[i]);
}

void scalar_axpy(float* y, float a, const float* x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

// Attention a key and a value row per query head (kernels.h has the contract), each element
// widened as kv_elem does.
template <kv_dtype_t R>
static void attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    for (int j = 0; j < rows.n; j++)
        for (int r = 0; r < G; r++) {
            float dot = 0;
            for (int d = 0; d < D; d++) dot += q[r * D + d] * kv_elem<R>(rows.keys[j], D, d);
            s[r * lds + j] = scale * dot;
        }
}

template <kv_dtype_t R>
static void attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    for (int j = 0; j < rows.n; j++)
        for (int r = 0; r < G; r++)
            for (int d = 0; d < D; d++) o[r * D + d] += w[r * ldw + j] * kv_elem<R>(rows.values[j], D, d);
}

void scalar_attn_scores(float* s, int64_t lds, const float* q, int G, int D, const attn_rows& rows, float scale) {
    if (rows.dtype == KV_F16) return attn_scores<KV_F16>(s, lds, q, G, D, rows, scale);
    if (rows.dtype == KV_Q8_0) return attn_scores<KV_Q8_0>(s, lds, q, G, D, rows, scale);
    attn_scores<KV_F32>(s, lds, q, G, D, rows, scale);
}

void scalar_attn_values(float* o, const float* w, int64_t ldw, int G, int D, const attn_rows& rows) {
    if (rows.dtype == KV_F16) return attn_values<KV_F16>(o, w, ldw, G, D, rows);
    if (rows.dtype == KV_Q8_0) return attn_values<KV_Q8_0>(o, w, ldw, G, D, rows);
    attn_values<KV_F32>(o, w, ldw, G, D, rows);
}

float scalar_softmax_exp(float* x, int n, float* max) {
    const float m = *max = max_lanes8(x, n);
    float sum = 0;
    for (int j = 0; j < n; j++) sum += x[j] = std::exp(x[j] - m);
    return sum;
}

void scalar_silu_mul(float* g, const float* u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + exp_poly(-g[i])) * u[i];
}

// ---------------------------------------------------------------- quantized

void scalar_quantize_act(const float* x, int64_t n, block_q8_act* out) {
    for (int64_t b = 0; b < n / QK; b++) {
        const float* v = x + b * QK;
        float amax = 0;
        for (int i = 0; i < QK; i++) amax = std::fmax(amax, std::fabs(v[i]));
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = d;
        // |v·id| ≤ 127 up to one rounding, which rounds back to 127: no clamp needed.
        int32_t sum = 0;
        for (int i = 0; i < QK; i++) sum += out[b].qs[i] = (int8_t)std::nearbyint(v[i] * id);  // ties to even
        set_act_sum(out[b], sum);
    }
}

// Weight i of row `lane` in a packed block (panel_layout.h), as the signed value the block's
// scale multiplies: Q8_0 q, Q4_0 n − 8.
static inline int32_t q8_weight(const uint8_t* q, int lane, int i) {
    return (int32_t)q[((i / 4) * PANEL_ROWS + lane) * 4 + i % 4] - 128;
}
static inline int32_t q4_weight(const uint8_t* q, int lane, int i) {
    const int e = i % 16;
    const uint8_t byte = q[((e / 4) * PANEL_ROWS + lane) * 4 + e % 4];
    return (int32_t)(i < 16 ? byte & 0x0F : byte >> 4) - 8;
}

template <bool Q4>
static void quant_panel(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t p) {
    const int64_t nb = x.nb;
    const int block_bytes = Q4 ? Q4_PANEL_BLOCK : Q8_PANEL_BLOCK;
    const int n = panel_rows(w.rows, p);
    for (int t = 0; t < T; t++) {
        const block_q8_act* xt = x.row(t);
        for (int lane = 0; lane < n; lane++) {
            float acc = 0;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t* blk = (const uint8_t*)w.data + (p * nb + b) * block_bytes;
                const uint8_t* q = blk + 2 * PANEL_ROWS;
                int32_t s = 0;
                for (int i = 0; i < QK; i++) s += (Q4 ? q4_weight(q, lane, i) : q8_weight(q, lane, i)) * xt[b].qs[i];
                const float dw = f16_to_f32(((const uint16_t*)blk)[lane]);
                acc = std::fma((float)s, dw * xt[b].d, acc);
            }
            y[t * ldy + p * PANEL_ROWS + lane] = acc;
        }
    }
}

void scalar_quant_matmul_panels(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, const panel_set& ps) {
    for (int i = 0; i < ps.n; i++) {
        if (w.dtype == DT_Q8_0) quant_panel<false>(y, ldy, x, T, w, ps.at(i));
        else quant_panel<true>(y, ldy, x, T, w, ps.at(i));
    }
}

// The register class that holds a float (for the probes' empty asm that hides a value).
#if defined(__x86_64__) || defined(__i386__)
#define FLOAT_REGISTER "+x"
#else
#define FLOAT_REGISTER "+r"
#endif

double scalar_fma_probe(int64_t iters, float* sink) {
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const float m = 0.999999f, c = 1e-6f;
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) {
            a[j] = a[j] * m + c;
            __asm__ volatile("" : FLOAT_REGISTER(a[j]));  // keeps the compiler from folding the chain
        }
    for (int j = 0; j < 8; j++) *sink += a[j];
    return 2.0 * 8 * (double)iters;
}

double scalar_int8_probe(int64_t iters, int32_t* sink) {
    int32_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) {
            a[j] += (int8_t)(a[j] & 0x7F) * (int8_t)37;
            __asm__ volatile("" : "+r"(a[j]));
        }
    for (int j = 0; j < 8; j++) *sink += a[j];
    return 2.0 * 8 * (double)iters;
}
