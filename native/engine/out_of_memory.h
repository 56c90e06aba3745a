// Where the engine turns running out of memory into a status instead of a crash. Native
// builds catch std::bad_alloc; WASM builds have no exceptions (wasi's libc++ is built without
// them): there an allocation that fails traps, and the host discards the whole instance.
#pragma once
#include <new>

#if defined(__cpp_exceptions)
#define ON_OUT_OF_MEMORY_TRY try
#define ON_OUT_OF_MEMORY catch (const std::bad_alloc&)
#else
#define ON_OUT_OF_MEMORY_TRY if (true)
#define ON_OUT_OF_MEMORY else
#endif
