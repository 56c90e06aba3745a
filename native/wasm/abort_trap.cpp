// libc++'s abort messages (a pure virtual call, a failed new without exceptions, a hardening
// check) print to stderr before aborting, which would make the module import WASI's fd_write:
// here they trap instead, and WasmEngine reports the trap (the module keeps zero imports).
#include <cstdlib>

extern "C" [[noreturn]] void abort_message(const char*, ...) { __builtin_trap(); }

#if __has_include(<__verbose_abort>)  // libc++ 15 and later
#include <__verbose_abort>
_LIBCPP_BEGIN_NAMESPACE_STD
void __libcpp_verbose_abort(const char*, ...) { __builtin_trap(); }
_LIBCPP_END_NAMESPACE_STD
#endif
