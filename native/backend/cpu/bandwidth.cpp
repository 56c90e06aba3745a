#include "bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "weight_arena.h"

// One read of n words as S streams, each a contiguous S-th of the range, 64 bytes of each in
// turn — decode's pattern: its kernels read 4 panels at once — into independent 16-byte XOR
// lanes (GCC/Clang vector types, on any target; XOR has a latency of 1, so the loop waits on
// memory alone). A dot product with one accumulator, which this used to be, waited on its FMA
// chain instead and read a third less than decode itself does. On Zen 5, 4 streams read 15–25%
// more than 1, and a software prefetch adds nothing.
typedef uint64_t words2 __attribute__((vector_size(16)));
template <int S>
static uint64_t read_streams(const uint64_t* p, size_t n) {
    words2 lane[S][4] = {};
    const size_t per = n / S;
    for (size_t i = 0; i + 8 <= per; i += 8)
        for (int s = 0; s < S; s++)
            for (int j = 0; j < 4; j++) {
                words2 v;
                std::memcpy(&v, p + s * per + i + 2 * j, sizeof v);
                lane[s][j] ^= v;
            }
    uint64_t x = 0;
    for (const auto& l : lane)
        for (const words2& v : l) x ^= v[0] ^ v[1];
    return x;
}

// The best of `reps` passes each with 1 and with 4 streams a thread: the roofline is what the
// memory gives the best reader.
double bandwidth_measure_read(thread_pool* pool, size_t bytes, int reps) {
    const size_t n = bytes / sizeof(uint64_t);
    // Huge-page memory, the kind the weights live in (weight_arena.h).
    weight_arena arena;
    uint64_t* buf = (uint64_t*)weight_arena_alloc(&arena, n * sizeof(uint64_t));
    if (!buf) return 0;
    // Touch every page so the first pass does not measure page faults.
    for (size_t i = 0; i < n; i++) buf[i] = i * 0x9E3779B97F4A7C15ull;
    const int slices = thread_pool_size(pool) * 16;
    const size_t per = (n / slices) & ~(size_t)31;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 2 * reps; r++) {
        std::vector<uint64_t> partial(slices);
        auto t0 = std::chrono::steady_clock::now();
        thread_pool_for(pool, slices, 1, [&](int b, int e, int) {
            for (int s = b; s < e; s++)
                partial[s] = r % 2 ? read_streams<4>(buf + (size_t)s * per, per) : read_streams<1>(buf + (size_t)s * per, per);
        });
        auto t1 = std::chrono::steady_clock::now();
        for (uint64_t v : partial) sink = sink ^ v;
        const double sec = std::chrono::duration<double>(t1 - t0).count();
        best = std::max(best, (double)per * slices * sizeof(uint64_t) / sec / 1e9);
    }
    weight_arena_free(&arena);
    return best;
}

double bandwidth_measure_read_threads(size_t bytes, int threads, int reps) {
    thread_pool* pool = thread_pool_init(threads);
    const double gbs = bandwidth_measure_read(pool, bytes, reps);
    thread_pool_free(pool);
    return gbs;
}

enum class probe { fma, int8, bf16 };

// Best of 5 rounds of the table's probe on every thread, in G operations per second.
static double peak_measure(const char* isa, int threads, probe kind) {
    std::string err;
    const cpu_kernels* k = cpu_kernels_select(isa, &err);
    if (!k) return -1;
    if (kind == probe::bf16 && !k->bf16_probe) return 0;
    thread_pool* pool = thread_pool_init(threads);
    std::vector<float> sinks(threads * 16);
    std::vector<int32_t> int_sinks(threads * 16);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        std::vector<double> ops(threads);
        const auto t0 = std::chrono::steady_clock::now();
        thread_pool_for(pool, threads, 1, [&](int b, int e, int thread) {
            for (int i = b; i < e; i++)
                ops[i] = kind == probe::int8   ? k->int8_probe(2000000, &int_sinks[thread * 16])
                         : kind == probe::bf16 ? k->bf16_probe(2000000, &sinks[thread * 16])
                                               : k->fma_probe(2000000, &sinks[thread * 16]);
        });
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double total = 0;
        for (double f : ops) total += f;
        best = std::max(best, total / sec / 1e9);
    }
    thread_pool_free(pool);
    return best;
}

double fma_peak_measure(const char* isa, int threads) { return peak_measure(isa, threads, probe::fma); }
double int8_peak_measure(const char* isa, int threads) { return peak_measure(isa, threads, probe::int8); }
double bf16_peak_measure(const char* isa, int threads) { return peak_measure(isa, threads, probe::bf16); }
