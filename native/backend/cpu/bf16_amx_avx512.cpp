// BF16 weights through AMX (Intel's tile unit, Sapphire Rapids and later): the `avx512_amx`
// table, which is the avx512 table with this matmul for BF16 weights. `tdpbf16ps` multiplies
// a tile of 16 tokens × 32 k of bf16 activations by one of 32 k × 16 rows of weights into 16
// × 16 f32 sums: a 256-token × 2,048 × 5,632 matmul on one thread of an Intel Xeon took
// 9.3–10.3 ms against the avx512 table's 37–38 ms (3.8×).
//
// Its numbers are not the other tables': activations are rounded to bf16 (round-to-nearest-
// even) as the unit takes them, and the unit sums each tile product in an order of its own (no
// chain of FMAs matched its results). So it is checked against a float64 reference that rounds
// the activations the same way (test/helpers/quantized_reference.ts, roundBf16: ~1e-7 apart,
// rounding flips aside) and the exact one at the bf16 tolerance, not bit for bit against the
// scalar table. Batch invariance holds: an output is its token's row against its weight row,
// k in chunks of 32 in order, from zero, whatever the tile, the call or the batch — so decode
// runs the same tiles as prefill, converting each panel first, and reads its weights at ~0.77×
// the avx512 table's speed (a layout packed for the tiles at load would spare the conversion).
#include <algorithm>

#include "kernels_isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "avx512_common.h"

#define AMX_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c,amx-tile,amx-bf16")))

static const int KC = 32;  // k a tile product covers (16 rows of 64 bytes: 32 bf16 a row)

// The tile shapes, loaded once per thread: tiles 0–3 the f32 sums (token tile a × panel b at
// 2a + b), 4–5 two token tiles of activations, 6–7 two panels of weights; all 16 × 64 bytes.
struct alignas(64) tile_config {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};
AMX_FN static void load_tile_config() {
    thread_local bool loaded = false;
    if (loaded) return;
    tile_config c;
    for (int i = 0; i < 8; i++) c.rows[i] = 16, c.colsb[i] = 64;
    _tile_loadconfig(&c);
    loaded = true;
}

// Whether this CPU has AMX-TILE and AMX-BF16 and the kernel lets this process use the tile
// data (Linux asks each process to request it once; without it the first tile instruction
// faults).
bool amx_bf16_usable() {
    static const bool usable = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
        const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
        return amx_bf16 && amx_tile && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }();
    return usable;
}

// f32 → bf16, round-to-nearest-even (DESIGN §2), 16 at a time.
AMX_FN static inline __m256i to_bf16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16));
}

// The T activation rows as bf16, Kp apart, columns past K zero (zero products add nothing).
// The rows up to the next 32 are there for the tiles to load and left as they are: a tile's
// output row m is its activation row m against the weights, so those rows' sums are never
// stored (and never touch the others').
AMX_FN static const uint16_t* activations_bf16(const act_rows& x, int T, int64_t K, int64_t Kp) {
    uint16_t* a = (uint16_t*)thread_copy_buffer((size_t)(T + 31) / 32 * 32 * Kp * 2);
    for (int t = 0; t < T; t++) {
        uint16_t* dst = a + t * Kp;
        const float* src = x.row(t);
        for (int64_t k = 0; k < Kp; k += 16) {
            const __mmask16 m = k < K ? tail_mask(K, k) : 0;
            _mm256_storeu_si256((__m256i*)(dst + k), to_bf16(_mm512_maskz_loadu_ps(m, src + k)));
        }
    }
    return a;
}

// Panels at[0 … n) of w (k-major, 16 rows a k: panel_layout.h) in the tiles' weight shape,
// panel p at out[p]: chunk c is 16 rows of 64 bytes, row i holding k = 32c + 2i and 32c + 2i +
// 1 of each of the 16 output rows side by side; k past K zero. The n panels are read at once,
// each fetched FETCH_BYTES ahead, as the decode tiles read theirs (their weight streams bound
// a decode step).
static const int FETCH_BYTES = 2048;
AMX_FN static void weights_pairs(uint16_t* const* out, const tensor& w, const int64_t* at, int n, int64_t Kp) {
    alignas(64) static const uint16_t PAIRS[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                   8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i pairs = _mm512_load_si512(PAIRS);
    const int64_t K = w.cols;
    const uint16_t* src[4];
    for (int p = 0; p < n; p++) src[p] = (const uint16_t*)w.data + at[p] * K * PANEL_ROWS;
    for (int64_t k = 0; k < Kp; k += 2) {
        const __mmask32 m = (k < K ? 0xFFFFu : 0u) | (k + 1 < K ? 0xFFFF0000u : 0u);
        for (int p = 0; p < n; p++) {
            _mm_prefetch((const char*)(src[p] + k * PANEL_ROWS) + FETCH_BYTES, _MM_HINT_T0);
            _mm512_store_si512(out[p] + k * PANEL_ROWS, _mm512_permutexvar_epi16(pairs, _mm512_maskz_loadu_epi16(m, src[p] + k * PANEL_ROWS)));
        }
    }
}

// y[t][rows of panel at] for the tokens [t0, t0 + 16) below T, from a tile's 16 × 16 sums.
AMX_FN static void store_sums(float* y, int64_t ldy, int T, int t0, const tensor& w, int64_t at, const float* sums) {
    const __mmask16 m = (__mmask16)((1u << panel_rows(w.rows, at)) - 1);
    for (int t = t0; t < std::min(T, t0 + 16); t++) _mm512_mask_storeu_ps(y + t * ldy + at * PANEL_ROWS, m, _mm512_load_ps(sums + (t - t0) * 16));
}

// Panels of ps four at a time into the tiles' shape, then two at a time (an odd last one taking
// its own panel twice) against tokens 32 at a time (16 where no more are left).
AMX_FN void avx512_amx_matmul_panels(float* y, int64_t ldy, const act_rows& x, int T, const tensor& w, const panel_set& ps) {
    // A matrix of less than a panel (a MoE router: 8 rows for Mixtral) stays on the exact f32
    // chain, so that the top-k choice, a step function, is the other tables'.
    if (w.dtype != DT_BF16 || w.rows < PANEL_ROWS) return avx512_matmul_panels(y, ldy, x, T, w, ps);
    load_tile_config();
    const int64_t K = w.cols, Kp = (K + KC - 1) / KC * KC;
    const uint16_t* a = activations_bf16(x, T, K, Kp);
    thread_local std::vector<uint16_t> pair_buffer;
    pair_buffer.resize((size_t)(4 * Kp * PANEL_ROWS + 32));
    uint16_t* b[4] = {pair_buffer.data() + (64 - (uintptr_t)pair_buffer.data() % 64) % 64 / 2};
    for (int p = 1; p < 4; p++) b[p] = b[p - 1] + Kp * PANEL_ROWS;
    alignas(64) float sums[4][16 * 16];
    for (int g = 0; g < ps.n; g += 4) {
        const int n = std::min(4, ps.n - g);
        int64_t at[4];
        for (int p = 0; p < n; p++) at[p] = ps.at(g + p);
        weights_pairs(b, w, at, n, Kp);
        for (int i = 0; i < n; i += 2) {
            const int j = std::min(i + 1, n - 1);  // the pair's second panel
            for (int t0 = 0; t0 < T; t0 += 32) {
                const bool two = t0 + 16 < T;  // a second token tile
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (int64_t k = 0; k < Kp; k += KC) {
                    _tile_loadd(4, a + t0 * Kp + k, Kp * 2);
                    _tile_loadd(6, b[i] + k * PANEL_ROWS, 64);
                    _tile_loadd(7, b[j] + k * PANEL_ROWS, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    if (!two) continue;
                    _tile_loadd(5, a + (t0 + 16) * Kp + k, Kp * 2);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                _tile_stored(0, sums[0], 64);
                _tile_stored(1, sums[1], 64);
                _tile_stored(2, sums[2], 64);
                _tile_stored(3, sums[3], 64);
                for (int p = 0; p < (i < j ? 2 : 1); p++) {
                    store_sums(y, ldy, T, t0, w, at[i + p], sums[p]);
                    if (two) store_sums(y, ldy, T, t0 + 16, w, at[i + p], sums[2 + p]);
                }
            }
        }
    }
}
#endif
