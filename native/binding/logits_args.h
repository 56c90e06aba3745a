// The arguments of the addon's per-row logits calls (drawToken(s), logprobs(Rows), step's
// ahead): the JS values → the engine_api.h structs, with a JS exception when they are not
// what they should be.
#pragma once
#include <napi.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine_api.h"
#include "model_spec.h"

// Whether info holds (rows: [], per-row: []) of one length; else a TypeError is pending.
inline bool row_arrays(const Napi::CallbackInfo& info, const std::string& call) {
    if (info.Length() >= 2 && info[0].IsArray() && info[1].IsArray() &&
        info[0].As<Napi::Array>().Length() == info[1].As<Napi::Array>().Length())
        return true;
    Napi::TypeError::New(info.Env(), call + ": two arrays of one length expected").ThrowAsJavaScriptException();
    return false;
}

// {temperature, topK, topP, minP, u} → a draw of no row yet.
inline engine_draw draw_settings(const Napi::Object& d) {
    const auto num = [&](const char* k) { return d.Get(k).ToNumber().DoubleValue(); };
    return engine_draw{nullptr, 0, num("temperature"), get_int(d, "topK"), num("topP"), num("minP"), num("u"), -1};
}

// (row: Float32Array, {temperature, topK, topP, minP, u, best}) → *out; false with a JS
// exception pending when they are not that or best is off the row.
inline bool read_draw(Napi::Env env, const Napi::Value& row_v, const Napi::Value& draw_v, const char* who, engine_draw* out) {
    if (!row_v.IsTypedArray() || row_v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !draw_v.IsObject()) {
        Napi::TypeError::New(env, std::string(who) + ": a row (Float32Array) and its draw expected").ThrowAsJavaScriptException();
        return false;
    }
    Napi::Float32Array row = row_v.As<Napi::Float32Array>();
    Napi::Object d = draw_v.As<Napi::Object>();
    *out = draw_settings(d);
    out->logits = row.Data();
    out->vocab = (int32_t)row.ElementLength();
    out->best = get_int(d, "best");
    if (out->best < 0 || (size_t)out->best >= row.ElementLength()) {
        Napi::RangeError::New(env, std::string(who) + ": best is not an index of the row").ThrowAsJavaScriptException();
        return false;
    }
    return true;
}

// step()'s optional Int32Array outputs (scan, aheadTokens): *out empty when `v` is undefined;
// false with a TypeError pending when it is not an Int32Array of at least n ints.
inline bool read_int32_out(Napi::Env env, const Napi::Value& v, int64_t n, const char* name, const std::string& per_row,
                           Napi::Int32Array* out) {
    if (v.IsUndefined()) return true;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || v.As<Napi::Int32Array>().ElementLength() < (size_t)n) {
        Napi::TypeError::New(env, std::string("step: ") + name + " must be an Int32Array of at least " + std::to_string(n) + " ints (" + per_row + ")")
            .ThrowAsJavaScriptException();
        return false;
    }
    *out = v.As<Napi::Int32Array>();
    return true;
}

// step()'s `ahead` → *draws: none for true/false (each row's argmax), or one draw a sequence
// (draw_settings; temperature 0: the argmax); false with a JS exception pending when it is an
// array of another length or of other things.
inline bool read_ahead_draws(Napi::Env env, const Napi::Value& v, size_t n_seqs, std::vector<engine_draw>* draws) {
    if (!v.IsArray()) return true;
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() != n_seqs) {
        Napi::TypeError::New(env, "step: ahead must hold one draw for each sequence").ThrowAsJavaScriptException();
        return false;
    }
    for (uint32_t i = 0; i < a.Length(); i++) {
        if (!a.Get(i).IsObject()) {
            Napi::TypeError::New(env, "step: ahead's draws must be objects").ThrowAsJavaScriptException();
            return false;
        }
        draws->push_back(draw_settings(a.Get(i).As<Napi::Object>()));
    }
    return true;
}

// (row: Float32Array, topN ≥ 0) → *out, its top_ids in *ids (room for min(topN, row length));
// false with a JS exception pending when they are not that.
inline bool read_logprobs_row(Napi::Env env, const Napi::Value& row_v, const Napi::Value& top_v, const char* who, engine_logprobs_row* out,
                       std::vector<int32_t>* ids) {
    if (!row_v.IsTypedArray() || row_v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !top_v.IsNumber() ||
        top_v.As<Napi::Number>().Int32Value() < 0) {
        Napi::TypeError::New(env, std::string(who) + ": a row (Float32Array) and topN ≥ 0 expected").ThrowAsJavaScriptException();
        return false;
    }
    Napi::Float32Array row = row_v.As<Napi::Float32Array>();
    const int32_t vocab = (int32_t)row.ElementLength();
    ids->resize((size_t)std::min(top_v.As<Napi::Number>().Int32Value(), vocab));
    *out = engine_logprobs_row{row.Data(), vocab, (int32_t)ids->size(), ids->data(), 0, 0};
    return true;
}

// {lse, top: Int32Array} of a row whose logprobs are done.
inline Napi::Object logprobs_value(Napi::Env env, const engine_logprobs_row& r) {
    Napi::Int32Array top = Napi::Int32Array::New(env, (size_t)r.n_top);
    std::copy(r.top_ids, r.top_ids + r.n_top, top.Data());
    Napi::Object o = Napi::Object::New(env);
    o.Set("lse", r.lse);
    o.Set("top", top);
    return o;
}
