// Assembles the kernel tables and picks one, once, when a CPU backend starts.
#include <climits>
#include <vector>

#include "amx_tiles.h"
#include "kernels_isa.h"

static const int NO_PACKING = INT_MAX;

// Fields in cpu_kernels' order: matrices, packing, quantized, vectors, attention, exp (softmax,
// SwiGLU), tables, f16 rows, probes.
static const cpu_kernels SCALAR = {
    "scalar",
    scalar_matmul_panels, NO_PACKING, nullptr,
    scalar_quantize_act, scalar_quant_matmul_panels,
    scalar_axpy,
    scalar_attn_scores, scalar_attn_values, false,
    scalar_softmax_exp, scalar_silu_mul,
    scalar_widen_row,
    scalar_to_f16,
    scalar_fma_probe, scalar_int8_probe};
#if defined(__x86_64__)
static const cpu_kernels AVX2 = {
    "avx2",
    avx2_matmul_panels, NO_PACKING, nullptr,
    avx2_quantize_act, avx2_quant_matmul_panels,
    avx2_axpy,
    avx2_attn_scores, avx2_attn_values, true,
    avx2_softmax_exp, avx2_silu_mul,
    avx2_widen_row,
    avx2_to_f16,
    avx2_fma_probe, avx2_int8_probe};
static const cpu_kernels AVX512 = [] {
    cpu_kernels k = {
        "avx512",
        avx512_matmul_panels, 5, avx512_pack_act,  // prefill tiles from 5 tokens read packed activations
        avx512_quantize_act, avx512_quant_matmul_panels,
        avx512_axpy,
        avx512_attn_scores, avx512_attn_values, true,
        avx512_softmax_exp, avx512_silu_mul,
        avx512_widen_row,
        avx2_to_f16,  // F16C's 8 lanes do the job
        avx512_fma_probe, avx512_int8_probe};
    k.attn_tokens = avx512_attn_tokens;
    return k;
}();

// AVX512 with BF16 weights through AMX (bf16_amx_avx512.cpp): its BF16 results are not the
// other tables' bits (within 1e-5 of them), and while its prefill runs 1.5–2.6× the avx512
// table's, its decode at batch 1–4 runs 0.9–1.0×: by name only (--isa avx512_amx), not the
// default.
static const cpu_kernels AVX512_AMX = [] {
    cpu_kernels k = AVX512;
    k.isa = "avx512_amx";
    k.matmul_panels = avx512_amx_matmul_panels;  // which hands every other dtype to avx512's
    k.bf16_tile_pairs = true;
    k.pack_act_bf16 = avx512_amx_pack_act_bf16;
    k.bf16_probe = avx512_amx_bf16_probe;
    return k;
}();

// The vendor the per-CPU choices below go by: set when the addon loads, before GCC's own
// CPU-model constructor may have run, hence __builtin_cpu_init.
static const bool CPU_IS_AMD = [] {
    __builtin_cpu_init();
    return __builtin_cpu_is("amd") != 0;
}();

// Decode tiles of 4 weight streams fetch each this far ahead: 2 KB on Intel, where the
// values were tuned (Q4_0 8 blocks, 15–35% faster single-thread decode than 2, 4 or 16; Q8_0
// 4 blocks as good as 8, which it had used; F16 1 KB gained less, 3 and 5 KB lost), 1 KB on
// AMD, as measured on Zen 5 (interleaved A/B in both orders, mistral-mini, against 2 KB / 8
// blocks): batch-1 decode Q4_0 (4 blocks) 0.966× the time at 2 threads (31 of 38 pairs),
// 0.945× at 1 (27 of 30); Q8_0 (2 blocks) 0.979× and 0.965×; F16 0.974× and 0.981×;
// mixtral-mini at 2 threads Q4_0 0.948×, Q8_0 0.949×, BF16 0.944×; 256-token prefill and
// batch 16 within 1–2%. 512 bytes lost (F16 1.027×), as did Q4_0's 8, 16 and 32 blocks in a
// one-thread harness of the kernel over a 377 MB matrix (GB/s against a plain 4-stream
// read's 37–38: 34.5 at 4 blocks, 30.5, 27, 27). On Zen 4 decode tiles fetch nothing
// (DECODE_TILES_FETCH, below); its Q8_0 / Q4_0 prefills' first tiles fetch AMD's 1 KB
// (256-token prefill without: 0.983–1.027× the time, within noise).
// (A global, read once a kernel call; set when the addon loads, before any kernel runs.)
const int STREAM_FETCH_BYTES = CPU_IS_AMD ? 1024 : 2048;

// Zen 4: AMD family 19h (GCC 12 knows no "znver4"; Zen 3, the same family, runs no AVX-512
// table). Like CPU_IS_AMD, set when the addon loads.
static const bool CPU_IS_ZEN4 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_is("amdfam19h") != 0;
}();

// The decode tiles fetch ahead on Intel and Zen 5 (above), not on Zen 4: there the fetches
// cost more than they bring. A one-thread harness of the AVX-512 Q4_0 tile over a 400 MB
// matrix (K = 4,096, Zen 4 EPYC, its plain read ~33 GB/s): 30.0–30.3 GB/s without against
// 25.1–26.5 with 1 KB (1.1–4.6 KB ahead: 24.3–28.4, into L2: 23.6–25.9); Q8_0 31.5–34.2
// against 24.1–25.3. Batch-1 decode in the engine, the time against fetching 1 KB ahead
// (bench:ab --alternate, 12 pairs each, 1 thread / 2 threads): mistral-mini Q4_0 0.789× (10
// of 11 pairs) / 0.920× (11 of 11), Q8_0 0.808× / 0.971×, F16 0.879× / 0.960×, BF16 0.889× /
// 0.989×; mixtral-mini Q4_0 0.737× / 0.831×, Q8_0 0.785× / 0.902×, F16 0.871× / 0.980×.
// The AVX2 table's decode tiles follow it (quant_avx2.cpp, kernels_avx2.cpp): family 19h is
// Zen 3 too, the machine class's AVX2-only end, for which they were measured on Zen 4 running
// that table (bench:ab --isa avx2, bench:llamacpp --avx2).
const bool DECODE_TILES_FETCH = !CPU_IS_ZEN4;

// one_pass_tile for F16/BF16 calls of 13–24 tokens on Intel, where it took 0.83× the wide
// path's time (kernels_avx512.cpp); the wide path on AMD, where one_pass_tile was the slower:
// on Zen 5 the wide path took 0.934× its time for a batch-16 step of mistral-mini F16 (2
// threads, interleaved A/B in both orders, 14 of 18 pairs) and 0.977× in a later session (25
// of 38); mixtral-mini F16 0.958×, batch 24 0.961×, BF16 1.002×. (one_pass_tile spends its
// time evenly over its 16 broadcast FMAs there: 17 loads a column against 16 FMAs, where the
// wide tile's 14 loads feed 24.) On Zen 4 one_pass_tile again, as on Intel: a batch-16 step of
// mistral-mini F16 0.937× the wide path's time at 1 and 2 threads, BF16 0.931× at 2 (7 of 7
// interleaved pairs each); mixtral-mini F16 (its experts' calls are of ~4 tokens) 1.025× (3
// of 7).
const bool ONE_PASS_BATCHES = !CPU_IS_AMD || CPU_IS_ZEN4;

static bool has_avx2() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
static bool has_avx512() {
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
#endif

#if defined(__wasm_simd128__)
static const cpu_kernels WASM_SIMD128 = {
    "wasm_simd128",
    wasm_simd128_matmul_panels, NO_PACKING, nullptr,
    wasm_simd128_quantize_act, wasm_simd128_quant_matmul_panels,
    wasm_simd128_axpy,
    wasm_simd128_attn_scores, wasm_simd128_attn_values, false,
    wasm_simd128_softmax_exp, wasm_simd128_silu_mul,
    scalar_widen_row,  // an embedding row a token: not worth a SIMD copy here
    scalar_to_f16,
    wasm_simd128_fma_probe, wasm_simd128_int8_probe};
#endif
#if defined(__wasm_relaxed_simd__)
// Q4_0 by relaxed dots: wasm_simd128's bits (quant_wasm_relaxed_simd.cpp).
static const cpu_kernels WASM_RELAXED_SIMD = [] {
    cpu_kernels k = WASM_SIMD128;
    k.isa = "wasm_relaxed_simd";
    k.quant_matmul_panels = wasm_relaxed_simd_quant_matmul_panels;
    k.int8_probe = wasm_relaxed_simd_int8_probe;
    return k;
}();
#endif

// The tables this build holds, best last.
static const std::vector<const cpu_kernels*>& built() {
    static const std::vector<const cpu_kernels*> tables{
        &SCALAR,
#if defined(__x86_64__)
        &AVX2, &AVX512_AMX, &AVX512,  // (AVX512_AMX before AVX512: opt-in, never the default)
#endif
#if defined(__wasm_simd128__)
        &WASM_SIMD128,  // a module that loads at all runs SIMD128: it fails validation otherwise
#endif
#if defined(__wasm_relaxed_simd__)
        &WASM_RELAXED_SIMD,  // likewise; src/engine/wasm_relaxed_probe.ts checks a host's dots first
#endif
    };
    return tables;
}

static bool runs_here(const cpu_kernels* k) {
#if defined(__x86_64__)
    if (k == &AVX2) return has_avx2();
    if (k == &AVX512) return has_avx512();
    if (k == &AVX512_AMX) return has_avx512() && amx_usable();
#endif
    return true;
}

// Best last.
static std::vector<const cpu_kernels*> available() {
    std::vector<const cpu_kernels*> out;
    for (const cpu_kernels* k : built())
        if (runs_here(k)) out.push_back(k);
    return out;
}

const char* cpu_kernels_tuning() {
#if defined(__x86_64__)
    return CPU_IS_ZEN4 ? "zen4" : CPU_IS_AMD ? "zen5" : "intel";
#else
    return "";
#endif
}

std::string cpu_kernels_available() {
    std::string s;
    for (const cpu_kernels* k : available()) s += (s.empty() ? "" : " ") + std::string(k->isa);
    return s;
}

const cpu_kernels* cpu_kernels_select(const std::string& isa, std::string* err) {
    const auto tables = available();
    if (isa.empty()) return tables.back();
    for (const cpu_kernels* k : tables)
        if (isa == k->isa) return k;
    std::string names;
    for (const cpu_kernels* k : built()) {
        if (isa == k->isa) return *err = "this CPU cannot run the " + isa + " kernels (it runs: " + cpu_kernels_available() + ")", nullptr;
        names += (names.empty() ? "" : ", ") + std::string(k->isa);
    }
    *err = "unknown ISA '" + isa + "': this build has " + names;
    return nullptr;
}
