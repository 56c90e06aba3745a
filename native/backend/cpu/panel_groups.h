// The work items of a matmul or MoE region: every group of GROUP panels of each of its
// matrices, matrix after matrix. Group g of a matrix of P panels holds panels g + j·stride,
// j < GROUP, stride = ceil(P / GROUP), so consecutive groups continue GROUP runs of memory
// (panel_layout.h). Held as one entry a matrix; an item's panels are worked out as a thread
// takes it, where a list of every item was read item by item while the kernels streamed the
// weights. In a harness of the engine's own tensors (Zen 4, one thread, the variants
// interleaved step by step) reading such a list made a batch-1 step of mixtral-mini Q4_0 ~10%
// longer than computing each item's panels in the loop; in the engine (bench:ab
// --both-orders, Zen 4): mistral-mini Q4_0 1 thread 0.983× the step's time (43 of 58 pairs),
// mixtral-mini Q4_0 0.990× (42 of 78), 2 threads 1.000× and mistral-mini Q8_0 0.989×.
#pragma once
#include <cstdint>
#include <vector>

#include "panel_layout.h"

struct panel_groups {
    static constexpr int GROUP = 4;  // 64 rows (2: decoded MoE Q4_0 40% slower)
    struct matrix_groups {
        int matrix;             // the caller's index (a matmuls() out, an expert's matrix)
        int first;              // its first item
        int64_t panels, stride;
    };
    std::vector<matrix_groups> matrices;
    int n = 0;  // items in all

    void clear() { matrices.clear(), n = 0; }
    void add(int matrix, int64_t rows) {
        const int64_t panels = panel_count(rows), stride = (panels + GROUP - 1) / GROUP;
        matrices.push_back({matrix, n, panels, stride});
        n += (int)stride;
    }
    // fn(matrix, panel_set) for items [begin, end), in order.
    template <typename F>
    void each(int begin, int end, F&& fn) const {
        size_t m = 0;
        for (int i = begin; i < end; i++) {
            while (i >= matrices[m].first + matrices[m].stride) m++;
            const matrix_groups& mg = matrices[m];
            const int64_t g = i - mg.first;
            int k = 1;
            while (k < GROUP && g + k * mg.stride < mg.panels) k++;
            fn(mg.matrix, panel_set{g, k, mg.stride});
        }
    }
};
