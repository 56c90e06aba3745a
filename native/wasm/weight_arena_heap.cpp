// weight_arena.h in WASM: linear memory has no pages to map, so each tensor is one aligned
// block of the heap (no regions shared between small tensors: every byte counts under an
// edge isolate's memory limit, and the heap already packs them).
#include <cstdlib>

#include "weight_arena.h"

void* weight_arena_alloc(weight_arena* a, size_t n) {
    const size_t size = (n + 63) & ~size_t(63);
    void* p = std::aligned_alloc(64, size);
    if (!p) return nullptr;
    a->regions.push_back({(char*)p, size, size});
    a->bytes += n;
    return p;
}

void weight_arena_free(weight_arena* a) {
    for (auto& r : a->regions) std::free(r.base);
    a->regions.clear();
    a->bytes = 0;
}
