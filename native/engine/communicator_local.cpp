// The in-process communicator: ranks publish their buffer, each reduces a disjoint segment of
// the result (reading every rank's buffer in rank order), and all copy the result back.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "communicator.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace {

// Spins briefly (shards usually arrive within microseconds of each other), then sleeps, so
// more shards than cores do not burn the CPU they wait for.
struct barrier {
    int n;
    std::atomic<int> arrived{0};
    std::atomic<unsigned> generation{0};
    std::mutex mu;
    std::condition_variable cv;

    void wait(const std::atomic<bool>& aborted) {
        const unsigned g = generation.load(std::memory_order_acquire);
        if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
            arrived.store(0, std::memory_order_relaxed);
            {
                std::lock_guard<std::mutex> lock(mu);
                generation.fetch_add(1, std::memory_order_release);
            }
            cv.notify_all();
            return;
        }
        for (int i = 0; i < 4000; i++) {
            if (generation.load(std::memory_order_acquire) != g || aborted.load(std::memory_order_relaxed)) return;
            cpu_relax();
        }
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return generation.load(std::memory_order_acquire) != g || aborted.load(); });
    }
    void wake_all() {
        { std::lock_guard<std::mutex> lock(mu); }
        cv.notify_all();
    }
};

class local_communicator final : public communicator {
   public:
    explicit local_communicator(int n) : bufs_(n) { sync_.n = n; }
    int size() const override { return (int)bufs_.size(); }

    bool all_reduce_sum(int rank, float* buf, size_t n) override {
        const int N = size();
        if (N == 1) return true;
        bufs_[rank] = buf;
        sync_.wait(aborted_);
        if (aborted_) return false;
        // Rank r sums elements [r·n/N, (r+1)·n/N).   n 10, N 3 → 0..3, 3..6, 6..10
        const size_t begin = n * rank / N, end = n * (rank + 1) / N;
        float* out = result_.data();
        for (size_t i = begin; i < end; i++) {
            float s = bufs_[0][i];
            for (int r = 1; r < N; r++) s += bufs_[r][i];
            out[i] = s;
        }
        sync_.wait(aborted_);
        if (aborted_) return false;
        for (size_t i = 0; i < n; i++) buf[i] = out[i];
        // The next all-reduce overwrites result_ only after its first barrier, which every
        // rank reaches after finishing this copy.
        return true;
    }

    void prepare(size_t max_floats) override {
        if (result_.size() < max_floats) result_.resize(max_floats);
    }

    void abort() override {
        aborted_ = true;
        sync_.wake_all();
    }
    void reset() override {
        aborted_ = false;
        sync_.arrived = 0;
    }

   private:
    std::vector<float*> bufs_;
    std::vector<float> result_;
    barrier sync_;
    std::atomic<bool> aborted_{false};
};

}  // namespace

communicator* communicator_local_create(int n_ranks) { return new local_communicator(n_ranks); }
