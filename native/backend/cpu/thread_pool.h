// A persistent pool of worker threads. Spawning threads per call costs more than a small
// kernel, so workers live as long as the engine and spin briefly before sleeping.
#pragma once
#include <functional>

struct thread_pool;

// fn(begin, end, thread_id) over [begin, end) ⊂ [0, n); thread_id in [0, n_threads).
using thread_pool_fn = std::function<void(int begin, int end, int thread_id)>;

thread_pool* thread_pool_init(int n_threads);  // n_threads ≥ 1; the caller counts as one
void thread_pool_free(thread_pool* pool);
int thread_pool_size(const thread_pool* pool);
// The grain that splits n items into about `per_thread` chunks a thread (at least 1 item):
// several, so a slow core does not hold the others up.
int thread_pool_grain(const thread_pool* pool, int n, int per_thread);

// Splits [0, n) into chunks of `grain` items, runs them on every thread (the caller
// included) and returns when all are done. Not re-entrant: one parallel_for at a time.
void thread_pool_for(thread_pool* pool, int n, int grain, const thread_pool_fn& fn);
