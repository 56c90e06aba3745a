// What the AMX kernels (Intel's tile unit, Sapphire Rapids and later) share: whether this
// process may use the tiles, and the tile shapes a kernel loads into its thread's configuration.
#pragma once
#include <cstdint>

// Whether this CPU has AMX-TILE and AMX-BF16 and the kernel lets this process use the
// tile data (Linux asks each process to request it once; without it the first tile instruction
// faults).
bool amx_usable();

// The shapes of the 8 tiles: tile i holds rows[i] rows of colsb[i] bytes.
struct amx_shapes {
    uint8_t rows[8];
    uint16_t colsb[8];
};

// Loads `s` into this thread's tile configuration unless those shapes are loaded already
// (loading clears every tile, so a kernel names its shapes at the start of each call).
void amx_use_shapes(const amx_shapes& s);
