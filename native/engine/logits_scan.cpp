// engine_logits_scan (engine_api.h): argmax and first non-finite index of logits rows. The
// node asks both of every row it samples; in JavaScript each took ~45 µs a 32,000-float row
// (V8 reads a Float32Array at ~1.5 ns an element), on the thread that also plans the next
// step — 1.4 ms of a 16-sequence decode step. Here in GCC/Clang vector types (as
// bandwidth.cpp), which become SSE2 in the addon's portable files and SIMD128 in the WASM
// build: a compiler does not vectorize a max that must keep NaN's rules by itself.
#include <cstdint>
#include <cstring>

#include "engine_api.h"

typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));
static const int VECS = 4, LANES = 4 * VECS;  // independent accumulators: 16 floats a turn

static inline f4 load4(const float* p) {
    f4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// v where v > top, else top: never a NaN v (a comparison with NaN is false).
static inline f4 keep_greater(f4 v, f4 top) {
    const i4 gt = v > top;
    return (f4)(((i4)v & gt) | ((i4)top & ~gt));
}

// The largest value of x[0, n) as a `>` scan from x[0] finds it (a NaN never taken), and
// whether any element is not finite. A lane's max depends on the order it meets values only
// through NaN, which it never takes; so the lanes' max is the scan's. A non-finite element
// shows as a NaN in its lane's sum of x − x (0 for every finite x).
static float row_max(const float* x, int32_t n, bool* any_non_finite) {
    f4 top[VECS], zero[VECS];
    for (int k = 0; k < VECS; k++) top[k] = f4{x[0], x[0], x[0], x[0]}, zero[k] = f4{0, 0, 0, 0};
    int32_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < VECS; k++) {
            const f4 v = load4(x + i + 4 * k);
            top[k] = keep_greater(v, top[k]);
            zero[k] += v - v;
        }
    float m = x[0], z = 0;
    for (int k = 0; k < VECS; k++)
        for (int l = 0; l < 4; l++) {
            m = top[k][l] > m ? top[k][l] : m;
            z += zero[k][l];
        }
    for (; i < n; i++) {
        m = x[i] > m ? x[i] : m;
        z += x[i] - x[i];
    }
    *any_non_finite = !(z == 0);
    return m;
}

// The first index of x[0, n) that holds m (one does), LANES at a time.
static int32_t first_equal(const float* x, int32_t n, float m) {
    const f4 mv = {m, m, m, m};
    int32_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        i4 hit = {0, 0, 0, 0};
        for (int k = 0; k < VECS; k++) hit |= load4(x + i + 4 * k) == mv;
        if (hit[0] | hit[1] | hit[2] | hit[3]) break;
    }
    while (!(x[i] == m)) i++;
    return i;
}

static int32_t first_non_finite(const float* x, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (!(x[i] - x[i] == 0)) return i;
    return -1;
}

void engine_logits_scan(const float* logits, int64_t rows, int32_t vocab, int32_t* out) {
    for (int64_t r = 0; r < rows; r++) {
        const float* x = logits + r * vocab;
        bool any_non_finite = false;
        const float m = row_max(x, vocab, &any_non_finite);
        out[2 * r] = m == m ? first_equal(x, vocab, m) : 0;  // a NaN max: x[0] was NaN, and the scan answers 0
        out[2 * r + 1] = any_non_finite ? first_non_finite(x, vocab) : -1;
    }
}
