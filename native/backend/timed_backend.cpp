#include "timed_backend.h"

const char* timed_op_name(int op) {
    static const char* const names[OP_COUNT] = {"begin_step", "embed", "rmsnorm", "matmul", "rope", "attention",
                                                "kv_write", "swiglu", "moe_route", "moe", "add", "logits"};
    return op >= 0 && op < OP_COUNT ? names[op] : "";
}

static double matrix_bytes(const tensor& w) { return (double)tensor_bytes(w.dtype, w.rows, w.cols); }

void timed_backend::begin_step(const step_batch& b) {
    timed(OP_BEGIN_STEP, 0, [&] { in_->begin_step(b); });
}

void timed_backend::embed(float* x, const tensor& table, int64_t first_row, const step_batch& b) {
    timed(OP_EMBED, 0, [&] { in_->embed(x, table, first_row, b); });
}

void timed_backend::rmsnorm(float* y, const float* x, const int32_t* rows, int n_rows, const tensor& w, float eps) {
    timed(OP_RMSNORM, 0, [&] { in_->rmsnorm(y, x, rows, n_rows, w, eps); });
}

void timed_backend::matmul(float* y, int64_t ldy, const float* x, int T, const tensor& w) {
    timed(OP_MATMUL, matrix_bytes(w), [&] { in_->matmul(y, ldy, x, T, w); });
}

void timed_backend::matmuls(const float* x, int T, const matmul_out* outs, int n) {
    double bytes = 0;
    for (int i = 0; i < n; i++) bytes += matrix_bytes(*outs[i].w);
    timed(OP_MATMUL, bytes, [&] { in_->matmuls(x, T, outs, n); });
}

void timed_backend::rope(float* x, int n_heads, const step_batch& b) {
    timed(OP_ROPE, 0, [&] { in_->rope(x, n_heads, b); });
}

bool timed_backend::attention(float* out, int layer, const float* q, const float* k, const float* v, const step_batch& b) {
    return timed(OP_ATTENTION, 0, [&] { return in_->attention(out, layer, q, k, v, b); });
}

void timed_backend::kv_write(int layer, const float* k, const float* v, const step_batch& b) {
    timed(OP_KV_WRITE, 0, [&] { in_->kv_write(layer, k, v, b); });
}

void timed_backend::swiglu(float* gate, const float* up, size_t n) {
    timed(OP_SWIGLU, 0, [&] { in_->swiglu(gate, up, n); });
}

void timed_backend::moe_route(moe_plan* plan, const float* router_logits, int T, int n_experts, int top_k) {
    timed(OP_MOE_ROUTE, 0, [&] { in_->moe_route(plan, router_logits, T, n_experts, top_k); });
}

// The weights of every expert this shard holds that serves a token: its three matrices.
void timed_backend::moe(float* out, const float* x, const moe_plan& plan, const moe_experts& experts) {
    double bytes = 0;
    for (int e = 0; e < plan.n_experts; e++)
        if (experts.w1[e].data && plan.expert_begin[e + 1] > plan.expert_begin[e])
            bytes += matrix_bytes(experts.w1[e]) + matrix_bytes(experts.w3[e]) + matrix_bytes(experts.w2[e]);
    timed(OP_MOE, bytes, [&] { in_->moe(out, x, plan, experts); });
}

void timed_backend::add(float* x, const float* y, size_t n) {
    timed(OP_ADD, 0, [&] { in_->add(x, y, n); });
}

void timed_backend::logits(float* host_logits, int64_t ld, int64_t col0, const float* x, int rows, const tensor& w) {
    timed(OP_LOGITS, matrix_bytes(w), [&] { in_->logits(host_logits, ld, col0, x, rows, w); });
}
