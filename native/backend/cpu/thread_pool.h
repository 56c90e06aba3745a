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
// A grain of about n / (threads · per_thread) items (at least 1): for work whose items are
// too small to be handed out one by one.
int thread_pool_grain(const thread_pool* pool, int n, int per_thread);

// Runs fn over [0, n) in chunks on every thread (the caller included) and returns when all
// are done. A chunk is a share of the items still left, never fewer than `grain`: large
// first, small at the end, so the threads finish together. A worker that is not on a core
// when the region starts may miss it: the caller then runs its chunks. Not re-entrant: one
// parallel_for at a time.
void thread_pool_for(thread_pool* pool, int n, int grain, const thread_pool_fn& fn);
// The same, but thread t starts on the t-th of thread_pool_size() contiguous shares of [0, n)
// (chunks of half what is left of it) and only then helps with the others', from their fronts.
// For memory-bound items laid out in order: each thread streams a run of its own.
void thread_pool_for_shares(thread_pool* pool, int n, const thread_pool_fn& fn);
