#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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

// A region's door: the generation it belongs to (high 32 bits), whether it is closed, and how
// many workers are inside (low bits). A worker joins a region only while its door is open;
// the caller closes it once every chunk is taken and waits for those inside alone. So a
// worker that is off its core when a region starts — on 2 vCPUs, V8's or Node's threads
// take one for a millisecond or more several times a second — costs nothing: the caller
// runs the chunks itself and goes on, and the late worker finds the door closed. (Waiting for
// every worker cost ~3% of a decode step: mistral-mini q4_0, 2 threads, 0.1–0.2 such waits a
// step of ~2 ms each.)
static const uint64_t DOOR_CLOSED = 1ull << 31, DOOR_INSIDE = DOOR_CLOSED - 1;
static uint64_t door_open(unsigned generation) { return (uint64_t)generation << 32; }

// A contiguous share of a region's items (thread_pool_for_shares): [next, end) is left.
struct alignas(64) item_share {
    std::atomic<int> next{0};
    int end = 0;
};

struct thread_pool {
    std::vector<std::thread> workers;
    std::vector<item_share> shares;  // one a thread, used when `by_share`
    std::mutex mu;
    std::condition_variable wake;
    std::atomic<unsigned> generation{0};  // bumped once per parallel_for
    std::atomic<uint64_t> door{0};        // the current region's door (above)
    std::atomic<int> next_item{0};  // the first item no thread has taken
    const thread_pool_fn* fn = nullptr;
    int n = 0, grain = 1;
    bool by_share = false;
    bool stop = false;
};

// thread_pool_for_shares: the thread's own share first, then the others' in turn.
static void run_shares(thread_pool* p, int thread_id) {
    const int P = thread_pool_size(p);
    for (int j = 0; j < P; j++) {
        item_share& s = p->shares[(thread_id + j) % P];
        int begin = s.next.load(std::memory_order_relaxed);
        while (begin < s.end) {
            const int end = begin + std::max(1, (s.end - begin) / 2);
            if (!s.next.compare_exchange_weak(begin, end, std::memory_order_relaxed)) continue;
            (*p->fn)(begin, end, thread_id);
            begin = s.next.load(std::memory_order_relaxed);
        }
    }
}

// Chunks shrink as the range runs out (a share of what is left, never under the grain), so
// the threads finish close together without many chunks early on.
static void run_chunks(thread_pool* p, int thread_id) {
    if (p->by_share) return run_shares(p, thread_id);
    const int share = 2 * thread_pool_size(p);
    int begin = p->next_item.load(std::memory_order_relaxed);
    while (begin < p->n) {
        const int size = std::max(p->grain, (p->n - begin) / share), end = std::min(p->n, begin + size);
        if (!p->next_item.compare_exchange_weak(begin, end, std::memory_order_relaxed)) continue;
        (*p->fn)(begin, end, thread_id);
        begin = p->next_item.load(std::memory_order_relaxed);
    }
}

// true: the worker is inside generation g's region and may run its chunks; false: that
// region is closed or already replaced by a later one.
static bool enter(thread_pool* p, unsigned g) {
    uint64_t d = p->door.load(std::memory_order_acquire);
    for (;;) {
        if (d != (door_open(g) | (d & DOOR_INSIDE))) return false;
        if (p->door.compare_exchange_weak(d, d + 1, std::memory_order_acq_rel)) return true;
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
        if (!enter(p, g)) continue;
        run_chunks(p, thread_id);
        p->door.fetch_sub(1, std::memory_order_release);
    }
}

thread_pool* thread_pool_init(int n_threads) {
    thread_pool* p = new thread_pool();
    p->shares = std::vector<item_share>((size_t)n_threads);
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

static void run_region(thread_pool* p, int n, int grain, bool by_share, const thread_pool_fn& fn) {
    p->fn = &fn;
    p->n = n;
    p->grain = grain;
    p->by_share = by_share;
    p->next_item.store(0, std::memory_order_relaxed);
    if (by_share) {
        const int P = thread_pool_size(p);
        for (int t = 0; t < P; t++) {
            p->shares[t].next.store((int)((int64_t)n * t / P), std::memory_order_relaxed);
            p->shares[t].end = (int)((int64_t)n * (t + 1) / P);
        }
    }
    const unsigned g = p->generation.load(std::memory_order_relaxed) + 1;
    p->door.store(door_open(g), std::memory_order_release);
    {
        // Bump under the lock so a worker between its predicate check and wait() cannot miss it.
        std::lock_guard<std::mutex> lock(p->mu);
        p->generation.store(g, std::memory_order_release);
    }
    p->wake.notify_all();
    run_chunks(p, 0);
    p->door.fetch_or(DOOR_CLOSED, std::memory_order_acq_rel);
    while ((p->door.load(std::memory_order_acquire) & DOOR_INSIDE) != 0) cpu_relax();
}

void thread_pool_for(thread_pool* p, int n, int grain, const thread_pool_fn& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (p->workers.empty() || n <= grain) return fn(0, n, 0);
    run_region(p, n, grain, false, fn);
}

void thread_pool_for_shares(thread_pool* p, int n, const thread_pool_fn& fn) {
    if (n <= 0) return;
    if (p->workers.empty() || n == 1) return fn(0, n, 0);
    run_region(p, n, 1, true, fn);
}
