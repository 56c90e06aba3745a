#include "shard_runner.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

struct shard_runner {
    std::vector<std::thread> threads;
    std::mutex mu;
    std::condition_variable start, done;
    const std::function<void(int)>* fn = nullptr;
    unsigned generation = 0;
    int pending = 0;
    bool stop = false;
};

static void shard_main(shard_runner* r, int rank) {
    unsigned seen = 0;
    for (;;) {
        const std::function<void(int)>* fn;
        {
            std::unique_lock<std::mutex> lock(r->mu);
            r->start.wait(lock, [&] { return r->stop || r->generation != seen; });
            if (r->stop) return;
            seen = r->generation;
            fn = r->fn;
        }
        (*fn)(rank);
        std::lock_guard<std::mutex> lock(r->mu);
        if (--r->pending == 0) r->done.notify_one();
    }
}

int shard_runner_max_shards() { return 1 << 16; }

shard_runner* shard_runner_init(int n_shards) {
    shard_runner* r = new shard_runner();
    for (int rank = 1; rank < n_shards; rank++) r->threads.emplace_back(shard_main, r, rank);
    return r;
}

void shard_runner_free(shard_runner* r) {
    if (!r) return;
    {
        std::lock_guard<std::mutex> lock(r->mu);
        r->stop = true;
    }
    r->start.notify_all();
    for (auto& t : r->threads) t.join();
    delete r;
}

void shard_runner_run(shard_runner* r, const std::function<void(int)>& fn) {
    if (r->threads.empty()) return fn(0);
    {
        std::lock_guard<std::mutex> lock(r->mu);
        r->fn = &fn;
        r->pending = (int)r->threads.size();
        r->generation++;
    }
    r->start.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(r->mu);
    r->done.wait(lock, [&] { return r->pending == 0; });
}
