// A backend that times another: every op forwarded to the inner backend, its wall time, calls
// and the weight bytes it reads added up per op. The bench turns it on for a few decode steps
// (engine_op_timing) to split a step's time between the matmuls and the rest — where the
// roofline's missing share goes — without an ad-hoc driver. Nothing is computed differently:
// the inner backend's numbers, bit for bit.
#pragma once
#include <chrono>

#include "backend.h"

// The ops timed, in backend.h's order.
enum timed_op : int {
    OP_BEGIN_STEP, OP_EMBED, OP_RMSNORM, OP_MATMUL, OP_ROPE, OP_ATTENTION, OP_KV_WRITE,
    OP_SWIGLU, OP_MOE_ROUTE, OP_MOE, OP_ADD, OP_LOGITS, OP_COUNT
};
const char* timed_op_name(int op);  // "matmul"

struct op_totals {
    double seconds = 0;
    long long calls = 0;
    double weight_bytes = 0;  // matrices' bytes the op read (matmul, moe, logits), each call
};

class timed_backend final : public backend {
   public:
    explicit timed_backend(backend* inner) : in_(inner) {}  // does not own inner
    const op_totals& totals(int op) const { return totals_[op]; }

    std::string name() const override { return in_->name(); }
    int threads() const override { return in_->threads(); }
    bool load_weight(const host_tensor& src, weight_use use, bool may_alias, tensor* out, std::string* err) override {
        return in_->load_weight(src, use, may_alias, out, err);
    }
    uint64_t weight_bytes() const override { return in_->weight_bytes(); }
    bool kv_grow(int64_t n_blocks) override { return in_->kv_grow(n_blocks); }
    uint64_t kv_block_bytes() const override { return in_->kv_block_bytes(); }
    float* scratch(int slot, size_t n) override { return in_->scratch(slot, n); }
    void host_for(int n, const std::function<void(int i)>& fn) override { in_->host_for(n, fn); }

    void begin_step(const step_batch& b) override;
    void embed(float* x, const tensor& table, int64_t first_row, const step_batch& b) override;
    void rmsnorm(float* y, const float* x, const int32_t* rows, int n_rows, const tensor& w, float eps) override;
    void matmul(float* y, int64_t ldy, const float* x, int T, const tensor& w) override;
    void matmuls(const float* x, int T, const matmul_out* outs, int n) override;
    void rope(float* x, int n_heads, const step_batch& b) override;
    bool attention(float* out, int layer, const float* q, const float* k, const float* v, const step_batch& b) override;
    void kv_write(int layer, const float* k, const float* v, const step_batch& b) override;
    void swiglu(float* gate, const float* up, size_t n) override;
    void moe_route(moe_plan* plan, const float* router_logits, int T, int n_experts, int top_k) override;
    void moe(float* out, const float* x, const moe_plan& plan, const moe_experts& experts) override;
    void add(float* x, const float* y, size_t n) override;
    void logits(float* host_logits, int64_t ld, int64_t col0, const float* x, int rows, const tensor& w) override;

   private:
    using clock = std::chrono::steady_clock;
    // fn() timed as one call of op that read `bytes` of weights; returns what fn returns.
    template <typename F>
    auto timed(int op, double bytes, F fn) {
        const clock::time_point t0 = clock::now();
        struct done_t {
            op_totals& o;
            clock::time_point t0;
            double bytes;
            ~done_t() {
                o.seconds += std::chrono::duration<double>(clock::now() - t0).count();
                o.calls++;
                o.weight_bytes += bytes;
            }
        } done{totals_[op], t0, bytes};
        return fn();
    }

    backend* in_;
    op_totals totals_[OP_COUNT];
};
