// The CPU backend's kernels, one table per instruction set (scalar, AVX2, AVX-512), chosen
// once when the backend starts — never by a branch inside a kernel. Every table computes the
// same functions; within a table a token's result never depends on the other tokens of the
// call (batch invariance), and the quantized kernels agree bit for bit across tables.
#pragma once
#include <cstdint>
#include <string>

#include "dtype.h"

// An activation block for the integer kernels: like Q8_0 but with an f32 scale (internal,
// never stored). q in [−127, 127]; −128 never occurs, which the sign trick relies on.
struct block_q8_act {
    float d;
    int8_t qs[QK];
};

// Which activation rows a kernel call reads: token t of the call is row idx[t] of x, or row t
// when idx is null. An expert reads its tokens straight out of the batch this way (no gather).
struct act_rows {
    const float* x;    // (rows, ld)
    int64_t ld;
    const int32_t* idx;
    const float* row(int t) const { return x + (idx ? idx[t] : t) * ld; }
    act_rows from(int t0) const { return idx ? act_rows{x, ld, idx + t0} : act_rows{x + t0 * ld, ld, nullptr}; }
};

// The same for quantized activations: nb blocks a row, and lane sums (nb, 8) a row (the
// Q4_0 decode kernel needs them; see quantize_act).
struct qact_rows {
    const block_q8_act* xq;  // (rows, nb)
    const int32_t* xsum;     // (rows, nb, 8)
    int64_t nb;
    const int32_t* idx;
    int64_t at(int t) const { return idx ? idx[t] : t; }
    qact_rows from(int t0) const {
        return idx ? qact_rows{xq, xsum, nb, idx + t0} : qact_rows{xq + t0 * nb, xsum + t0 * nb * 8, nb, nullptr};
    }
};

struct cpu_kernels {
    const char* isa;  // "scalar", "avx2", "avx512"
    // Float weights (F32/F16/BF16): y[t·ldy + r] = (row r of w) · (activation row t), for
    // rows [r0, r0 + nr) and tokens [0, T). scratch: w.cols floats (a widened row).
    void (*matmul_rows)(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, int64_t r0, int nr,
                        float* scratch);
    // x (n) → n/32 activation blocks, d = max|x| / 127, q = round-half-even(x / d).
    // lane_sum8 (n/32, 8): lane j of block b = 8 · (q[4j] + … + q[4j+3]).
    void (*quantize_act)(const float* x, int64_t n, block_q8_act* out, int32_t* lane_sum8);
    // Quantized weights (Q8_0/Q4_0) against quantized activations, same contract as matmul_rows.
    void (*quant_matmul_rows)(float* y, int64_t ldy, const qact_rows& x, int T, const tensor& w, int64_t r0, int nr);
    float (*dot)(const float* a, const float* b, int n);
    void (*axpy)(float* y, float a, const float* x, int n);  // y += a·x
    // K/V stored as f16: the same two with the second operand in f16.
    float (*dot_f16)(const float* a, const uint16_t* b, int n);
    void (*axpy_f16)(float* y, float a, const uint16_t* x, int n);
    void (*widen_row)(const tensor& w, int64_t row, float* dst);  // float dtypes; quantized via dtype.h
    // The FMA peak probe for benchmarks: `iters` rounds of independent vector FMA chains;
    // returns the floating-point operations done (2 per lane per FMA).
    double (*fma_probe)(int64_t iters, float* sink);
};

// The table for `isa` ("scalar", "avx2", "avx512"), or the best this CPU runs when isa is
// empty. null + *err if the CPU lacks it or the name is unknown.
const cpu_kernels* cpu_kernels_select(const std::string& isa, std::string* err);
// "scalar avx2 avx512": the tables this CPU can run, best last.
std::string cpu_kernels_available();
