// Sparse mixture of experts, driven by a routing plan (moe_plan.h): one parallel region over
// every active expert's gate/up rows (SwiGLU applied in place), one over every active
// expert's down rows, then each token's outputs combined in its choice order. Experts read
// their tokens straight out of the batch through the plan's token ids: no gather copy.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu_backend.h"

void cpu_backend::moe_route(moe_plan* plan, const float* router_logits, int T, int n_experts, int top_k) {
    route_choice_.resize((size_t)T * top_k);
    route_weight_.resize((size_t)T * top_k);
    for (int t = 0; t < T; t++)
        moe_route_token(router_logits + (int64_t)t * n_experts, n_experts, top_k, &route_choice_[(size_t)t * top_k],
                        &route_weight_[(size_t)t * top_k]);
    moe_plan_build(plan, n_experts, top_k, T, route_choice_.data(), route_weight_.data());
}

void cpu_backend::moe(float* out, const float* x, const moe_plan& plan, const moe_experts& ex) {
    const int hidden = cfg_.shape.hidden, T = plan.n_tokens, E = plan.n_experts;
    const int n_entries = T * plan.top_k;
    std::memset(out, 0, sizeof(float) * (size_t)T * hidden);
    int held = -1;  // an expert this shard holds: their shapes and dtype are every one's
    for (int e = 0; e < E; e++)
        if (ex.w1[e].data) held = e;
    if (held < 0) return;  // this shard holds no expert of this layer
    const int64_t inter = ex.w1[held].rows;
    const bool quant = dtype_is_quant(ex.w1[held].dtype);

    moe_h_.resize((size_t)n_entries * inter);  // (entries, inter): gate, then SwiGLU
    moe_up_.resize((size_t)n_entries * inter);
    moe_y_.resize((size_t)n_entries * hidden);
    float *h = moe_h_.data(), *up = moe_up_.data(), *y = moe_y_.data();
    const qact_rows xq = quant ? quantize_rows(act_rows{x, hidden, nullptr}, T, hidden, 0) : qact_rows{};

    // Work items over the experts that hold tokens: (expert, group of panels of `rows` rows).
    panel_groups& items = panel_items_;
    // sets = 2: every active expert's groups twice over, item matrix e then E + e.
    auto plan_items = [&](int64_t rows, int sets = 1) {
        items.clear();
        for (int set = 0; set < sets; set++)
            for (int e = 0; e < E; e++)
                if (ex.w1[e].data && plan.expert_begin[e + 1] > plan.expert_begin[e]) items.add(set * E + e, rows);
    };
    // Float weights: each expert's activation rows packed for the kernels of matrices like w
    // (pack_rows: BF16 tile pairs always, the others if the table packs blocks that large),
    // expert e's at rows [expert_begin[e], …); for BF16 tile pairs, whose rows come in token
    // tiles of 16 (panel_layout.h), at bf16_row(e): a multiple of 16 clear of the expert
    // before's last tile (a gap of 16 rows at most).
    auto bf16_row = [&](int e) { return (plan.expert_begin[e] + 15) / 16 * 16 + 16 * e; };
    auto pack_experts = [&](auto rows_of_expert, const tensor& w) {
        if (quant) return;
        const int64_t K = w.cols;
        const bool tiles = tile_pairs_for(w.dtype, w.rows);
        float* f = packed_floats(!tiles, n_entries, K);
        uint16_t* b = packed_bf16(tiles, bf16_row(E), K);  // bf16_row(E): where the experts end
        for (int e = 0; e < E; e++) {
            const int b0 = plan.expert_begin[e], n = plan.expert_begin[e + 1] - b0;
            for (int t0 = 0; ex.w1[e].data && t0 < n; t0 += TOKEN_BLOCK)
                pack_rows(rows_of_expert(b0).from(t0), std::min(TOKEN_BLOCK, n - t0), K, f ? f + (b0 + t0) * K : nullptr,
                          b ? b + (bf16_row(e) + t0) * bf16_act_stride(K) : nullptr);
        }
    };
    // y (n, ldy) rows of the item's panels = w · expert e's activation rows, in token blocks.
    auto rows_of = [&](float* yb, int64_t ldy, const act_rows& xa, const qact_rows& qa, int e, int n, const tensor& w,
                       const panel_set& ps) {
        for (int t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
            const int nt = std::min(TOKEN_BLOCK, n - t0);
            act_rows block = xa.from(t0);
            if (tile_pairs_for(w.dtype, w.rows)) block.packed_bf16 = packed_bf16_.data() + (bf16_row(e) + t0) * bf16_act_stride(w.cols);
            else if (!quant && packs(nt)) block.packed = packed_.data() + (plan.expert_begin[e] + t0) * w.cols;
            matmul_panels(yb + t0 * ldy, ldy, block, qa.from(t0), nt, w, ps);
        }
    };

    // 1. gate and up rows of every active expert for its tokens; h = silu(gate) · up in place.
    // Decode: gate and up are matrices of their own (item matrix e: gate, E + e: up), so that
    // each thread streams whole matrices one at a time, and SwiGLU follows the region.
    pack_experts([&](int b0) { return act_rows{x, hidden, plan.entry_token.data() + b0}; }, ex.w1[held]);
    if (T <= STREAM_TOKENS) {
        plan_items(inter, 2);
        for_panel_groups(T, [&](int matrix, const panel_set& ps) {
            const int e = matrix % E, b0 = plan.expert_begin[e], n = plan.expert_begin[e + 1] - b0;
            const int32_t* tokens = plan.entry_token.data() + b0;
            const bool is_up = matrix >= E;
            rows_of((is_up ? up : h) + (int64_t)b0 * inter, inter, act_rows{x, hidden, tokens}, qact_rows{xq.xq, xq.nb, tokens}, e,
                    n, is_up ? ex.w3[e] : ex.w1[e], ps);
        });
        for (int j = 0; j < n_entries; j++) k_->silu_mul(h + (int64_t)j * inter, up + (int64_t)j * inter, inter);
    } else {
        plan_items(inter);
        for_panel_groups(T, [&](int e, const panel_set& ps) {
            const int b0 = plan.expert_begin[e], n = plan.expert_begin[e + 1] - b0;
            const int32_t* tokens = plan.entry_token.data() + b0;
            const act_rows xa{x, hidden, tokens};
            const qact_rows qa{xq.xq, xq.nb, tokens};
            rows_of(h + (int64_t)b0 * inter, inter, xa, qa, e, n, ex.w1[e], ps);
            rows_of(up + (int64_t)b0 * inter, inter, xa, qa, e, n, ex.w3[e], ps);
            for (int p = 0; p < ps.n; p++) {
                const int64_t r0 = ps.at(p) * PANEL_ROWS, r1 = std::min<int64_t>(inter, r0 + PANEL_ROWS);
                for (int j = 0; j < n; j++) k_->silu_mul(h + (int64_t)(b0 + j) * inter + r0, up + (int64_t)(b0 + j) * inter + r0, r1 - r0);
            }
        });
    }

    // 2. down rows of every active expert.
    const qact_rows hq = quant ? quantize_rows(act_rows{h, inter, nullptr}, n_entries, inter, 1) : qact_rows{};
    pack_experts([&](int b0) { return act_rows{h + (int64_t)b0 * inter, inter, nullptr}; }, ex.w2[held]);
    plan_items(hidden);
    for_panel_groups(T, [&](int e, const panel_set& ps) {
        const int b0 = plan.expert_begin[e], n = plan.expert_begin[e + 1] - b0;
        const act_rows ha{h + (int64_t)b0 * inter, inter, nullptr};
        const qact_rows qa = quant ? hq.from(b0) : qact_rows{};
        rows_of(y + (int64_t)b0 * hidden, hidden, ha, qa, e, n, ex.w2[e], ps);
    });

    // 3. each token: Σ weight · expert output over its choices, best first.
    for (int t = 0; t < T; t++) {
        float* o = out + (int64_t)t * hidden;
        for (int i = 0; i < plan.top_k; i++) {
            const int entry = plan.token_entry[(size_t)t * plan.top_k + i];
            const int e = (int)(std::upper_bound(plan.expert_begin.begin(), plan.expert_begin.end(), entry) -
                                plan.expert_begin.begin()) - 1;
            if (!ex.w1[e].data) continue;
            const float w = plan.entry_weight[entry];
            const float* ye = y + (int64_t)entry * hidden;
            for (int d = 0; d < hidden; d++) o[d] += w * ye[d];
        }
    }
}
