// thread_pool.h where there are no threads (WASM in an edge isolate): every loop runs on the
// calling thread, in one chunk.
#include "thread_pool.h"

struct thread_pool {};

thread_pool* thread_pool_init(int) { return new thread_pool(); }
void thread_pool_free(thread_pool* pool) { delete pool; }
int thread_pool_size(const thread_pool*) { return 1; }
int thread_pool_grain(const thread_pool*, int n, int per_thread) {
    const int g = n / per_thread;
    return g > 1 ? g : 1;
}
void thread_pool_for(thread_pool*, int n, int, const thread_pool_fn& fn) {
    if (n > 0) fn(0, n, 0);
}
void thread_pool_for_shares(thread_pool*, int n, const thread_pool_fn& fn) {
    if (n > 0) fn(0, n, 0);
}
