#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

// How long an idle worker spins before it sleeps: long enough to bridge the gap between
// two kernels of one step (microseconds), short enough not to burn a core between steps —
// on a small machine the node's event loop, the gateway and the client need that core
// while the next step is being planned. A time, not a count: `pause` takes 10 to 150
// cycles depending on the CPU.
static const auto SPIN_BUDGET = std::chrono::microseconds(50);

struct thread_pool {
    std::vector<std::thread> workers;
    std::mutex mu;
    std::condition_variable wake;
    std::atomic<unsigned> generation{0};  // bumped once per parallel_for
    std::atomic<int> busy_workers{0};     // workers that have not finished the current job
    std::atomic<int> next_chunk{0};
    const thread_pool_fn* fn = nullptr;
    int n = 0, grain = 1, n_chunks = 0;
    bool stop = false;
};

static void run_chunks(thread_pool* p, int thread_id) {
    for (;;) {
        int c = p->next_chunk.fetch_add(1, std::memory_order_relaxed);
        if (c >= p->n_chunks) return;
        int begin = c * p->grain;
        int end = begin + p->grain < p->n ? begin + p->grain : p->n;
        (*p->fn)(begin, end, thread_id);
    }
}

static void worker_main(thread_pool* p, int thread_id) {
    unsigned seen = 0;
    for (;;) {
        unsigned g = p->generation.load(std::memory_order_acquire);
        const auto spin_until = std::chrono::steady_clock::now() + SPIN_BUDGET;
        for (int i = 1; g == seen; i++) {
            cpu_relax();
            g = p->generation.load(std::memory_order_acquire);
            if (i % 64 == 0 && std::chrono::steady_clock::now() > spin_until) break;
        }
        if (g == seen) {
            std::unique_lock<std::mutex> lock(p->mu);
            p->wake.wait(lock, [&] { return p->stop || p->generation.load() != seen; });
            if (p->stop) return;
            g = p->generation.load(std::memory_order_acquire);
        }
        seen = g;
        run_chunks(p, thread_id);
        p->busy_workers.fetch_sub(1, std::memory_order_release);
    }
}

thread_pool* thread_pool_init(int n_threads) {
    thread_pool* p = new thread_pool();
    for (int i = 1; i < n_threads; i++) p->workers.emplace_back(worker_main, p, i);
    return p;
}

void thread_pool_free(thread_pool* p) {
    if (!p) return;
    {
        std::lock_guard<std::mutex> lock(p->mu);
        p->stop = true;
    }
    p->wake.notify_all();
    for (auto& t : p->workers) t.join();
    delete p;
}

int thread_pool_size(const thread_pool* p) { return (int)p->workers.size() + 1; }
int thread_pool_grain(const thread_pool* p, int n, int per_thread) {
    const int g = n / (thread_pool_size(p) * per_thread);
    return g > 1 ? g : 1;
}

void thread_pool_for(thread_pool* p, int n, int grain, const thread_pool_fn& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (p->workers.empty() || n <= grain) {
        fn(0, n, 0);
        return;
    }
    p->fn = &fn;
    p->n = n;
    p->grain = grain;
    p->n_chunks = (n + grain - 1) / grain;
    p->next_chunk.store(0, std::memory_order_relaxed);
    p->busy_workers.store((int)p->workers.size(), std::memory_order_relaxed);
    {
        // Bump under the lock so a worker between its predicate check and wait() cannot miss it.
        std::lock_guard<std::mutex> lock(p->mu);
        p->generation.fetch_add(1, std::memory_order_release);
    }
    p->wake.notify_all();
    run_chunks(p, 0);
    while (p->busy_workers.load(std::memory_order_acquire) != 0) cpu_relax();
}
