// wasi's libc++ (built without threads) leaves out the hook that registers a thread_local's
// destructor. The module's one thread lives as long as the instance, so there is nothing to run.
extern "C" int __cxa_thread_atexit(void (*)(void*), void*, void*) { return 0; }
