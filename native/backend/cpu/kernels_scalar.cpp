// Portable kernels: the reference every other table is tested against. The quantized ones
// define the exact float operations the SIMD tables repeat (8 lane sums per block, two
// alternating accumulators, quant_finish_lanes, mul then add, no FMA).
#include <cmath>
#include <cstring>

#include "kernels_isa.h"

template <int D>
static void rows_scalar(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r0, int nr) {
    const int64_t K = w.cols;
    for (int t = 0; t < T; t++) {
        const float* xt = x.row(t);
        for (int64_t r = r0; r < r0 + nr; r++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += elem<D>(w.data, r * K + k) * xt[k];
            y[t * ldy + r] = s;
        }
    }
}

void scalar_matmul_rows(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r0, int nr, float*) {
    switch (w.dtype) {
        case DT_F32: return rows_scalar<DT_F32>(y, ldy, x, T, w, r0, nr);
        case DT_F16: return rows_scalar<DT_F16>(y, ldy, x, T, w, r0, nr);
        case DT_BF16: return rows_scalar<DT_BF16>(y, ldy, x, T, w, r0, nr);
        default: return;
    }
}

void scalar_widen_row(const tensor& w, int64_t row, float* dst) { tensor_row_to_f32(w, row, dst); }

float scalar_dot(const float* a, const float* b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void scalar_axpy(float* y, float a, const float* x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

float scalar_dot_f16(const float* a, const uint16_t* b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * f16_to_f32(b[i]);
    return s;
}

void scalar_axpy_f16(float* y, float a, const uint16_t* x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * f16_to_f32(x[i]);
}

// ---------------------------------------------------------------- quantized

void scalar_quantize_act(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8) {
    for (int64_t b = 0; b < n / QK; b++) {
        const float* v = x + b * QK;
        float amax = 0;
        for (int i = 0; i < QK; i++) amax = std::fmax(amax, std::fabs(v[i]));
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = d;
        // |v·id| ≤ 127 up to one rounding, which rounds back to 127: no clamp needed.
        for (int i = 0; i < QK; i++) out[b].qs[i] = (int8_t)std::nearbyint(v[i] * id);  // ties to even
        const int8_t* q = out[b].qs;
        for (int j = 0; j < 8; j++) lane_sum8[b * 8 + j] = 8 * (q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3]);
    }
}

// A block's 32 weights as int8, and its scale: Q8_0 as stored, Q4_0 unpacked to n − 8.
static inline float unpack(const block_q8_0& b, int8_t q[QK]) {
    std::memcpy(q, b.qs, QK);
    return f16_to_f32(b.d);
}

static inline float unpack(const block_q4_0& b, int8_t q[QK]) {
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (int8_t)((b.qs[j] & 0x0F) - 8);         // element j: low nibble
        q[j + QK / 2] = (int8_t)((b.qs[j] >> 4) - 8);  // element j + 16: high nibble
    }
    return f16_to_f32(b.d);
}

// One weight row against one activation row (nb blocks). Block b adds its 8 lane sums — lane
// j = Σ_{i=4j}^{4j+3} q_w[i]·q_x[i], exact in int32 — times d_w·d_x into accumulator b mod 2.
template <typename B>
static float dot_row(const B* w, const block_q8_act* x, int64_t nb) {
    float acc[2][8] = {};
    int8_t q[QK];
    for (int64_t b = 0; b < nb; b++) {
        const float d = unpack(w[b], q) * x[b].d;
        float* a = acc[b & 1];
        for (int j = 0; j < 8; j++) {
            int32_t s = 0;
            for (int i = 4 * j; i < 4 * j + 4; i++) s += (int32_t)q[i] * (int32_t)x[b].qs[i];
            a[j] = a[j] + (float)s * d;
        }
    }
    return quant_finish_lanes(acc[0], acc[1]);
}

template <typename B>
static void quant_rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0, int nr) {
    const int64_t nb = w.cols / QK;
    for (int64_t r = r0; r < r0 + nr; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = dot_row((const B*)w.data + r * nb, x.xq + x.at(t) * nb, nb);
}

void scalar_quant_matmul_rows(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0, int nr) {
    if (w.dtype == DT_Q8_0) quant_rows<block_q8_0>(y, ldy, x, T, w, r0, nr);
    else quant_rows<block_q4_0>(y, ldy, x, T, w, r0, nr);
}

double scalar_fma_probe(int64_t iters, float* sink) {
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const float m = 0.999999f, c = 1e-6f;
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) {
            a[j] = a[j] * m + c;
            __asm__ volatile("" : "+x"(a[j]));  // keeps the compiler from folding the chain
        }
    for (int j = 0; j < 8; j++) *sink += a[j];
    return 2.0 * 8 * (double)iters;
}
