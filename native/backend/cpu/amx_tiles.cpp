#include "amx_tiles.h"

#include <algorithm>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

bool amx_usable() {
    static const bool usable = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
        const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
        return amx_bf16 && amx_tile && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }();
    return usable;
}

// The 64-byte block ldtilecfg reads (palette 1).
struct alignas(64) tile_config {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

void amx_use_shapes(const amx_shapes& s) {
    thread_local amx_shapes loaded{};  // all rows 0: none yet
    if (std::equal(s.rows, s.rows + 8, loaded.rows) && std::equal(s.colsb, s.colsb + 8, loaded.colsb)) return;
    tile_config c;
    for (int i = 0; i < 8; i++) c.rows[i] = s.rows[i], c.colsb[i] = s.colsb[i];
    // ldtilecfg by hand: GCC 12 takes _tile_loadconfig for an instruction that reads no memory
    // and drops the stores above it (all but the palette's), and the first tile load faults.
    asm volatile("ldtilecfg %0" ::"m"(c));
    loaded = s;
}
#else
bool amx_usable() { return false; }
void amx_use_shapes(const amx_shapes&) {}
#endif
