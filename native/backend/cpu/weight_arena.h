// Memory the CPU backend owns for weights: anonymous mappings backed by transparent huge
// pages (streaming weights measured 5–7× faster from these than from a file mapping on our
// VMs; bench/README.md), freed together when the backend goes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

struct weight_arena {
    struct region {
        char* base;
        size_t size, used;
    };
    std::vector<region> regions;
    uint64_t bytes = 0;  // handed out
};

// 64-byte aligned; null when memory is exhausted.
void* weight_arena_alloc(weight_arena* a, size_t n);
void weight_arena_free(weight_arena* a);
