#include "weight_arena.h"

#include <sys/mman.h>

static const size_t REGION_BYTES = size_t(64) << 20;  // shared by tensors under a quarter of it

static void* map_region(weight_arena* a, size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    madvise(p, size, MADV_HUGEPAGE);
    a->regions.push_back({(char*)p, size, 0});
    return p;
}

void* weight_arena_alloc(weight_arena* a, size_t n) {
    const size_t need = (n + 63) & ~size_t(63);
    if (need > REGION_BYTES / 4) {  // a large tensor gets a mapping of its own
        void* p = map_region(a, need);
        if (p) a->regions.back().used = need, a->bytes += n;
        return p;
    }
    weight_arena::region* r = nullptr;
    for (auto& reg : a->regions)
        if (reg.size == REGION_BYTES && reg.size - reg.used >= need) r = &reg;
    if (!r) {
        if (!map_region(a, REGION_BYTES)) return nullptr;
        r = &a->regions.back();
    }
    void* out = r->base + r->used;
    r->used += need;
    a->bytes += n;
    return out;
}

void weight_arena_free(weight_arena* a) {
    for (auto& r : a->regions) munmap(r.base, r.size);
    a->regions.clear();
    a->bytes = 0;
}
