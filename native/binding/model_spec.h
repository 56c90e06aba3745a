// The JS spec of a model (src/engine/native.ts: NativeSpec) → engine_model_spec.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "engine_api.h"

inline int get_int(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }

inline bool read_dtype(const std::string& s, int32_t* out) {
    static const char* names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0"};
    for (int i = 0; i < 5; i++)
        if (s == names[i]) return *out = i, true;
    return false;
}

// {file, offset, dtype, shape} → engine_tensor_ref; bounds are checked by the engine.
inline bool read_ref(const Napi::Value& v, const std::string& name, engine_tensor_ref* ref, std::string* err) {
    *ref = engine_tensor_ref{};
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

// The JS spec (src/engine/native.ts) → engine_model_spec; `experts` and `layers` own the arrays.
inline bool read_spec(const Napi::Object& spec, engine_model_spec* out, std::vector<engine_layer_refs>* layers,
               std::vector<std::vector<engine_tensor_ref>>* experts, std::string* err) {
    Napi::Object c = spec.Get("config").As<Napi::Object>();
    engine_model_config& mc = out->config;
    mc = engine_model_config{get_int(c, "vocabSize"), get_int(c, "hiddenSize"), get_int(c, "intermediateSize"),
                             get_int(c, "numLayers"), get_int(c, "numHeads"), get_int(c, "numKvHeads"),
                             get_int(c, "headDim"), get_int(c, "numExperts"), get_int(c, "topK"),
                             get_int(c, "window"), c.Get("rmsEps").As<Napi::Number>().FloatValue(),
                             c.Get("ropeTheta").As<Napi::Number>().DoubleValue(),
                             c.Get("ropeInterleaved").ToBoolean().Value() ? 1 : 0};
    Napi::Object w = spec.Get("tensors").As<Napi::Object>();
    if (!read_ref(w.Get("embed"), "embed", &out->embed, err) || !read_ref(w.Get("lmHead"), "lmHead", &out->lm_head, err) ||
        !read_ref(w.Get("finalNorm"), "finalNorm", &out->final_norm, err))
        return false;
    Napi::Array ls = w.Get("layers").As<Napi::Array>();
    if ((int)ls.Length() != mc.n_layers) return *err = "layers: expected " + std::to_string(mc.n_layers), false;
    layers->resize(ls.Length());
    experts->resize(ls.Length());
    for (uint32_t l = 0; l < ls.Length(); l++) {
        Napi::Object lo = ls.Get(l).As<Napi::Object>();
        engine_layer_refs& r = (*layers)[l];
        r = engine_layer_refs{};
        const std::string at = "layer " + std::to_string(l) + " ";
        if (!read_ref(lo.Get("attnNorm"), at + "attnNorm", &r.attn_norm, err) ||
            !read_ref(lo.Get("ffnNorm"), at + "ffnNorm", &r.ffn_norm, err) || !read_ref(lo.Get("wq"), at + "wq", &r.wq, err) ||
            !read_ref(lo.Get("wk"), at + "wk", &r.wk, err) || !read_ref(lo.Get("wv"), at + "wv", &r.wv, err) ||
            !read_ref(lo.Get("wo"), at + "wo", &r.wo, err))
            return false;
        if (mc.n_experts == 0) {
            if (!read_ref(lo.Get("w1"), at + "w1", &r.w1, err) || !read_ref(lo.Get("w2"), at + "w2", &r.w2, err) ||
                !read_ref(lo.Get("w3"), at + "w3", &r.w3, err))
                return false;
            continue;
        }
        if (!read_ref(lo.Get("router"), at + "router", &r.router, err)) return false;
        Napi::Array ex = lo.Get("experts").As<Napi::Array>();
        if ((int)ex.Length() != mc.n_experts) return *err = at + "experts: expected " + std::to_string(mc.n_experts), false;
        std::vector<engine_tensor_ref>& refs = (*experts)[l];
        refs.resize(3 * ex.Length());
        for (uint32_t x = 0; x < ex.Length(); x++) {
            Napi::Object eo = ex.Get(x).As<Napi::Object>();
            const std::string e = at + "expert " + std::to_string(x) + " ";
            if (!read_ref(eo.Get("w1"), e + "w1", &refs[3 * x], err) || !read_ref(eo.Get("w2"), e + "w2", &refs[3 * x + 1], err) ||
                !read_ref(eo.Get("w3"), e + "w3", &refs[3 * x + 2], err))
                return false;
        }
        r.experts = refs.data();
    }
    out->layers = layers->data();
    return true;
}
