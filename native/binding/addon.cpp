// Node binding: converts JS values to engine structs and back. No engine logic lives here.
// Steps run on libuv's worker threads (AsyncWorker) and resolve a Promise, so the event
// loop never waits for the engine. Errors become JS exceptions or rejected promises.
#include <napi.h>

#include <string>
#include <thread>
#include <vector>

#include "bandwidth.h"
#include "engine.h"

namespace {

bool read_dtype(const std::string& s, dtype_t* out) {
    if (s == "F32") return *out = DT_F32, true;
    if (s == "F16") return *out = DT_F16, true;
    if (s == "BF16") return *out = DT_BF16, true;
    if (s == "Q8_0") return *out = DT_Q8_0, true;  // blocks of 32: f16 scale + 32 int8 (quant.h)
    if (s == "Q4_0") return *out = DT_Q4_0, true;  // blocks of 32: f16 scale + 16 bytes of nibbles
    return false;
}

int get_int(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }

// {file, offset, dtype, shape} → where the tensor lies; bounds are checked by model_tensor.
bool read_ref(const Napi::Value& v, const std::string& name, tensor_ref* ref, std::string* err) {
    if (!v.IsObject()) return *err = name + ": missing", false;
    Napi::Object o = v.As<Napi::Object>();
    ref->file = get_int(o, "file");
    ref->offset = (uint64_t)o.Get("offset").As<Napi::Number>().Int64Value();
    if (!read_dtype(o.Get("dtype").As<Napi::String>().Utf8Value(), &ref->dtype)) return *err = name + ": bad dtype", false;
    Napi::Array shape = o.Get("shape").As<Napi::Array>();
    ref->rows = shape.Length() == 2 ? shape.Get(0u).As<Napi::Number>().Int64Value() : 1;
    ref->cols = shape.Get(shape.Length() - 1).As<Napi::Number>().Int64Value();
    return true;
}

bool read_tensor(const model& m, const Napi::Value& v, const std::string& name, tensor* out, std::string* err) {
    tensor_ref ref;
    return read_ref(v, name, &ref, err) && model_tensor(&m, ref, name, out, err);
}

bool read_vector(const model& m, const Napi::Value& v, const std::string& name, std::vector<float>* out,
                 std::string* err) {
    tensor_ref ref;
    return read_ref(v, name, &ref, err) && model_vector_f32(&m, ref, name, out, err);
}

bool read_model(const Napi::Object& spec, model* m, std::string* err) {
    Napi::Object c = spec.Get("config").As<Napi::Object>();
    m->cfg = model_config{get_int(c, "vocabSize"), get_int(c, "hiddenSize"), get_int(c, "intermediateSize"),
                          get_int(c, "numLayers"), get_int(c, "numHeads"), get_int(c, "numKvHeads"),
                          get_int(c, "headDim"), get_int(c, "numExperts"), get_int(c, "topK"),
                          get_int(c, "window"), c.Get("rmsEps").As<Napi::Number>().FloatValue(),
                          c.Get("ropeTheta").As<Napi::Number>().DoubleValue(),
                          c.Get("ropeInterleaved").ToBoolean().Value()};
    Napi::Array files = spec.Get("files").As<Napi::Array>();
    const bool copy = spec.Get("weightsIn").As<Napi::String>().Utf8Value() == "memory";
    for (uint32_t i = 0; i < files.Length(); i++)
        if (!model_map_file(m, files.Get(i).As<Napi::String>().Utf8Value(), copy, err)) return false;

    Napi::Object w = spec.Get("tensors").As<Napi::Object>();
    if (!read_tensor(*m, w.Get("embed"), "embed", &m->embed, err)) return false;
    if (!read_tensor(*m, w.Get("lmHead"), "lmHead", &m->lm_head, err)) return false;
    if (!read_vector(*m, w.Get("finalNorm"), "finalNorm", &m->final_norm, err)) return false;
    Napi::Array layers = w.Get("layers").As<Napi::Array>();
    m->layers.resize(layers.Length());
    for (uint32_t l = 0; l < layers.Length(); l++) {
        Napi::Object lo = layers.Get(l).As<Napi::Object>();
        layer_weights& lw = m->layers[l];
        const std::string at = "layer " + std::to_string(l) + " ";
        if (!read_vector(*m, lo.Get("attnNorm"), at + "attnNorm", &lw.attn_norm, err) ||
            !read_vector(*m, lo.Get("ffnNorm"), at + "ffnNorm", &lw.ffn_norm, err) ||
            !read_tensor(*m, lo.Get("wq"), at + "wq", &lw.wq, err) ||
            !read_tensor(*m, lo.Get("wk"), at + "wk", &lw.wk, err) ||
            !read_tensor(*m, lo.Get("wv"), at + "wv", &lw.wv, err) ||
            !read_tensor(*m, lo.Get("wo"), at + "wo", &lw.wo, err))
            return false;
        if (m->cfg.n_experts == 0) {
            if (!read_tensor(*m, lo.Get("w1"), at + "w1", &lw.w1, err) ||
                !read_tensor(*m, lo.Get("w2"), at + "w2", &lw.w2, err) ||
                !read_tensor(*m, lo.Get("w3"), at + "w3", &lw.w3, err))
                return false;
            continue;
        }
        if (!read_tensor(*m, lo.Get("router"), at + "router", &lw.router, err)) return false;
        Napi::Array experts = lo.Get("experts").As<Napi::Array>();
        for (uint32_t x = 0; x < experts.Length(); x++) {
            Napi::Object eo = experts.Get(x).As<Napi::Object>();
            const std::string ex = at + "expert " + std::to_string(x) + " ";
            tensor w1, w2, w3;
            if (!read_tensor(*m, eo.Get("w1"), ex + "w1", &w1, err) ||
                !read_tensor(*m, eo.Get("w2"), ex + "w2", &w2, err) ||
                !read_tensor(*m, eo.Get("w3"), ex + "w3", &w3, err))
                return false;
            lw.expert_w1.push_back(w1);
            lw.expert_w2.push_back(w2);
            lw.expert_w3.push_back(w3);
        }
    }
    return true;
}

class StepWorker : public Napi::AsyncWorker {
   public:
    StepWorker(Napi::Env env, Napi::Object owner, engine* e, bool* busy, std::vector<step_seq> seqs,
               std::vector<int32_t> tokens, Napi::Float32Array logits)
        : Napi::AsyncWorker(env), owner_(Napi::Persistent(owner)), e_(e), busy_(busy), seqs_(std::move(seqs)), tokens_(std::move(tokens)),
          deferred_(Napi::Promise::Deferred::New(env)), logits_ref_(Napi::Persistent(logits)),
          logits_(logits.Data()) {}

    Napi::Promise Promise() { return deferred_.Promise(); }

    void Execute() override {
        std::string err;
        try {
            if (!engine_step(e_, seqs_.data(), (int)seqs_.size(), tokens_.data(), logits_, &err)) SetError(err);
        } catch (const std::bad_alloc&) {
            SetError("out of memory during the engine step");
        }
    }
    void OnOK() override {
        *busy_ = false;
        deferred_.Resolve(logits_ref_.Value());
    }
    void OnError(const Napi::Error& error) override {
        *busy_ = false;
        deferred_.Reject(error.Value());
    }

   private:
    Napi::ObjectReference owner_;  // keeps the Engine (and so e_) alive until the step ends
    engine* e_;
    bool* busy_;
    std::vector<step_seq> seqs_;
    std::vector<int32_t> tokens_;
    Napi::Promise::Deferred deferred_;
    Napi::Reference<Napi::Float32Array> logits_ref_;
    float* logits_;
};

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
   public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "Engine",
                           {InstanceMethod("createSequence", &EngineWrap::CreateSequence),
                            InstanceMethod("resetSequence", &EngineWrap::ResetSequence),
                            InstanceMethod("freeSequence", &EngineWrap::FreeSequence),
                            InstanceMethod("sequenceLength", &EngineWrap::SequenceLength),
                            InstanceMethod("truncateSequence", &EngineWrap::TruncateSequence),
                            InstanceMethod("step", &EngineWrap::Step),
                            InstanceMethod("info", &EngineWrap::Info),
                            InstanceMethod("close", &EngineWrap::Close)});
    }

    explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
        Napi::Env env = info.Env();
        if (!info[0].IsObject()) {
            Napi::TypeError::New(env, "Engine(spec): spec object expected").ThrowAsJavaScriptException();
            return;
        }
        Napi::Object spec = info[0].As<Napi::Object>();
        model m;
        std::string err;
        if (!read_model(spec, &m, &err)) {
            model_free(&m);
            Napi::Error::New(env, "cannot load model: " + err).ThrowAsJavaScriptException();
            return;
        }
        int threads = spec.Has("threads") ? get_int(spec, "threads") : 0;
        if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
        int64_t kv_max_blocks = spec.Has("kvMaxBlocks") ? spec.Get("kvMaxBlocks").As<Napi::Number>().Int64Value() : 0;
        e_ = engine_init(std::move(m), threads, kv_max_blocks);
    }

    ~EngineWrap() override { engine_free(e_); }

   private:
    bool usable(Napi::Env env) {
        if (!e_) Napi::Error::New(env, "engine is closed").ThrowAsJavaScriptException();
        else if (busy_) Napi::Error::New(env, "engine is busy with a step").ThrowAsJavaScriptException();
        return e_ && !busy_;
    }

    Napi::Value CreateSequence(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        return Napi::Number::New(info.Env(), engine_seq_create(e_));
    }
    Napi::Value ResetSequence(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        return Napi::Boolean::New(info.Env(), engine_seq_reset(e_, info[0].As<Napi::Number>().Int32Value()));
    }
    Napi::Value FreeSequence(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        return Napi::Boolean::New(info.Env(), engine_seq_free(e_, info[0].As<Napi::Number>().Int32Value()));
    }
    Napi::Value TruncateSequence(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        return Napi::Boolean::New(info.Env(), engine_seq_truncate(e_, info[0].As<Napi::Number>().Int32Value(),
                                                                  info[1].As<Napi::Number>().Int64Value()));
    }
    Napi::Value SequenceLength(const Napi::CallbackInfo& info) {
        if (!e_) return Napi::Number::New(info.Env(), -1);
        return Napi::Number::New(info.Env(), (double)engine_seq_length(e_, info[0].As<Napi::Number>().Int32Value()));
    }

    // step(seqIds: Int32Array, counts: Int32Array, allLogits: Uint8Array, tokens: Int32Array)
    //   → Promise<Float32Array (rows, vocab)>
    Napi::Value Step(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!usable(env)) return env.Undefined();
        if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
            !info[3].IsTypedArray()) {
            Napi::TypeError::New(env, "step(seqIds, counts, allLogits, tokens): typed arrays expected")
                .ThrowAsJavaScriptException();
            return env.Undefined();
        }
        Napi::Int32Array ids = info[0].As<Napi::Int32Array>(), counts = info[1].As<Napi::Int32Array>();
        Napi::Uint8Array all = info[2].As<Napi::Uint8Array>();
        Napi::Int32Array toks = info[3].As<Napi::Int32Array>();
        if (counts.ElementLength() != ids.ElementLength() || all.ElementLength() != ids.ElementLength()) {
            Napi::TypeError::New(env, "step: seqIds, counts and allLogits differ in length").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        std::vector<step_seq> seqs(ids.ElementLength());
        int64_t n_tokens = 0;
        for (size_t i = 0; i < seqs.size(); i++) {
            seqs[i] = {ids[i], counts[i], all[i] != 0};
            n_tokens += counts[i];
        }
        if (n_tokens != (int64_t)toks.ElementLength()) {
            Napi::TypeError::New(env, "step: counts do not add up to the number of tokens").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        const int64_t rows = engine_step_logit_rows(seqs.data(), (int)seqs.size());
        Napi::Float32Array logits = Napi::Float32Array::New(env, (size_t)(rows * e_->m.cfg.vocab_size));
        std::vector<int32_t> tokens(toks.Data(), toks.Data() + toks.ElementLength());
        busy_ = true;
        auto* w = new StepWorker(env, info.This().As<Napi::Object>(), e_, &busy_, std::move(seqs), std::move(tokens), logits);
        Napi::Promise p = w->Promise();
        w->Queue();
        return p;
    }

    Napi::Value Info(const Napi::CallbackInfo& info) {
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("isa", kernels_isa());
        o.Set("threads", e_ ? thread_pool_size(e_->pool) : 0);
        o.Set("kvBlocksInUse", e_ ? (double)kv_pool_blocks_in_use(&e_->kv) : 0);
        o.Set("kvBlockSlots", KV_BLOCK_SLOTS);
        return o;
    }

    Napi::Value Close(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        engine_free(e_);
        e_ = nullptr;
        return info.Env().Undefined();
    }

    engine* e_ = nullptr;
    bool busy_ = false;
};

// measureBandwidth(bytes, threads) → GB/s. Blocks the calling thread: for benchmarks only.
Napi::Value MeasureBandwidth(const Napi::CallbackInfo& info) {
    const double bytes = info[0].As<Napi::Number>().DoubleValue();
    int threads = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
    thread_pool* pool = thread_pool_init(threads);
    const double gbs = bandwidth_measure_read(pool, (size_t)bytes, 5);
    thread_pool_free(pool);
    return Napi::Number::New(info.Env(), gbs);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("Engine", EngineWrap::Define(env));
    exports.Set("measureBandwidth", Napi::Function::New(env, MeasureBandwidth));
    exports.Set("isa", Napi::String::New(env, kernels_isa()));
    exports.Set("kvBlockSlots", Napi::Number::New(env, KV_BLOCK_SLOTS));
    return exports;
}

}  // namespace

NODE_API_MODULE(sirocco, Init)
