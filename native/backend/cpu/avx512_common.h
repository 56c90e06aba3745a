// What the AVX-512 kernel files share: the target attribute (nothing compiled with it runs
// unless the CPU was checked for it, kernels_select.cpp).
#pragma once
// GCC 12's AVX-512 headers build their results from _mm512_undefined_*(), which it then flags.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
