#include "bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include <string>

#include "kernels.h"
#include "weight_arena.h"

double bandwidth_measure_read(thread_pool* pool, size_t bytes, int reps) {
    std::string err;
    const cpu_kernels* k = cpu_kernels_select("", &err);  // the best table: this is a read test
    const size_t n = bytes / sizeof(float);
    // Huge-page memory, the kind the weights live in (weight_arena.h).
    weight_arena arena;
    float* buf = (float*)weight_arena_alloc(&arena, n * sizeof(float));
    if (!buf) return 0;
    // Touch every page so the first pass does not measure page faults.
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023) * 1e-3f;
    const int slices = thread_pool_size(pool) * 16;
    const size_t per = (n / slices) & ~(size_t)15;
    std::vector<float> ones(4096, 1.0f);  // stays in L1
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < reps; r++) {
        std::vector<float> partial(slices);
        auto t0 = std::chrono::steady_clock::now();
        // dot with a small cached vector = one streamed read of buf; the ones vector is
        // re-read from cache. An f32 matvec with one row per slice does the same traffic.
        thread_pool_for(pool, slices, 1, [&](int b, int e, int) {
            for (int s = b; s < e; s++) {
                float acc = 0;
                for (size_t off = 0; off < per; off += 4096) {
                    size_t len = std::min<size_t>(4096, per - off);
                    acc += k->dot(buf + (size_t)s * per + off, ones.data(), (int)len);
                }
                partial[s] = acc;
            }
        });
        auto t1 = std::chrono::steady_clock::now();
        sink = sink + partial[0];
        const double sec = std::chrono::duration<double>(t1 - t0).count();
        best = std::max(best, (double)per * slices * sizeof(float) / sec / 1e9);
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

// Best of 5 rounds of the table's probe on every thread, in G operations per second.
static double peak_measure(const char* isa, int threads, bool int8) {
    std::string err;
    const cpu_kernels* k = cpu_kernels_select(isa, &err);
    if (!k) return -1;
    thread_pool* pool = thread_pool_init(threads);
    std::vector<float> sinks(threads * 16);
    std::vector<int32_t> int_sinks(threads * 16);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        std::vector<double> ops(threads);
        const auto t0 = std::chrono::steady_clock::now();
        thread_pool_for(pool, threads, 1, [&](int b, int e, int thread) {
            for (int i = b; i < e; i++)
                ops[i] = int8 ? k->int8_probe(2000000, &int_sinks[thread * 16]) : k->fma_probe(2000000, &sinks[thread * 16]);
        });
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double total = 0;
        for (double f : ops) total += f;
        best = std::max(best, total / sec / 1e9);
    }
    thread_pool_free(pool);
    return best;
}

double fma_peak_measure(const char* isa, int threads) { return peak_measure(isa, threads, false); }
double int8_peak_measure(const char* isa, int threads) { return peak_measure(isa, threads, true); }
