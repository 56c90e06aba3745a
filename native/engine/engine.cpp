// engine_step as a fixed sequence of backend ops, the same on every shard: each computes its
// slice (its heads, FFN columns or experts, vocabulary rows) and the communicator adds the
// partial results after attention and after the FFN.
#include "engine.h"

// Activation buffers, by scratch slot.
enum { S_X, S_XN, S_Q, S_K, S_V, S_ATT, S_TMP, S_GATE, S_UP, S_ROUTER, S_FINAL };

bool engine_shard_forward(engine* e, int rank, float* logits) {
    engine_shard& sh = e->shards[rank];
    backend* be = sh.ops();
    const engine_model_config& c = e->cfg;
    const step_batch& b = e->batch;
    const int T = b.n_tokens, hidden = c.hidden_size, D = c.head_dim;
    const int Hl = (int)sh.slice.q_heads.size(), KVl = (int)sh.slice.kv_heads.size();
    const int64_t inter = sh.slice.ffn_cols.size();
    communicator* comm = e->comm;
    bool ok = true;

    // Activations: x the residual stream (T, hidden), replicated on every shard.
    float* x = be->scratch(S_X, (size_t)T * hidden);
    float* xn = be->scratch(S_XN, (size_t)T * hidden);
    float* q = be->scratch(S_Q, (size_t)T * Hl * D);
    float* k = be->scratch(S_K, (size_t)T * KVl * D);
    float* v = be->scratch(S_V, (size_t)T * KVl * D);
    float* att = be->scratch(S_ATT, (size_t)T * Hl * D);
    float* tmp = be->scratch(S_TMP, (size_t)T * hidden);

    be->begin_step(b);
    be->embed(x, sh.w.embed, sh.slice.vocab.begin, b);  // rows of other shards' vocabulary are 0
    ok &= comm->all_reduce_sum(rank, x, (size_t)T * hidden);
    for (int l = 0; l < c.n_layers; l++) {
        const layer_weights& lw = sh.w.layers[l];
        be->rmsnorm(xn, x, nullptr, T, lw.attn_norm, c.rms_eps);
        const matmul_out qkv[] = {{q, Hl * D, &lw.wq}, {k, KVl * D, &lw.wk}, {v, KVl * D, &lw.wv}};
        be->matmuls(xn, T, qkv, 3);
        be->rope(q, Hl, b);
        be->rope(k, KVl, b);
        sh.ok &= be->attention(att, l, q, k, v, b);
        be->kv_write(l, k, v, b);
        be->matmul(tmp, hidden, att, T, lw.wo);
        ok &= comm->all_reduce_sum(rank, tmp, (size_t)T * hidden);
        be->add(x, tmp, (size_t)T * hidden);

        be->rmsnorm(xn, x, nullptr, T, lw.ffn_norm, c.rms_eps);
        if (c.n_experts > 0) {
            float* router = be->scratch(S_ROUTER, (size_t)T * c.n_experts);
            be->matmul(router, c.n_experts, xn, T, lw.router);
            be->moe_route(&sh.routing, router, T, c.n_experts, c.top_k);
            be->moe(tmp, xn, sh.routing, moe_experts{lw.expert_w1.data(), lw.expert_w3.data(), lw.expert_w2.data()});
        } else {
            float* gate = be->scratch(S_GATE, (size_t)T * inter);
            float* up = be->scratch(S_UP, (size_t)T * inter);
            const matmul_out gate_up[] = {{gate, inter, &lw.w1}, {up, inter, &lw.w3}};
            be->matmuls(xn, T, gate_up, 2);
            be->swiglu(gate, up, (size_t)T * inter);
            be->matmul(tmp, hidden, gate, T, lw.w2);
        }
        ok &= comm->all_reduce_sum(rank, tmp, (size_t)T * hidden);
        be->add(x, tmp, (size_t)T * hidden);
    }

    // Final norm and lm_head only for the rows whose logits were asked for; each shard writes
    // its vocabulary columns.
    const int rows = (int)b.logit_rows.size();
    float* fin = be->scratch(S_FINAL, (size_t)rows * hidden);
    be->rmsnorm(fin, x, b.logit_rows.data(), rows, sh.w.final_norm, c.rms_eps);
    be->logits(logits, c.vocab_size, sh.slice.vocab.begin, fin, rows, sh.w.lm_head);
    return ok;
}
