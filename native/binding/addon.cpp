// Node binding: converts JS values to the engine's C ABI (engine_api.h) and back. No engine
// logic lives here. Steps run on a thread of each engine's own (StepThread) and resolve a
// Promise, so the event loop never waits for the engine. A failing call throws (or rejects) an Error
// whose `code` is the engine's status: 'BAD_INPUT', 'KV_EXHAUSTED' or 'INTERNAL'.
#include <napi.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bandwidth.h"
#include "engine_api.h"
#include "engine_errors.h"
#include "logits_args.h"
#include "model_spec.h"
#include "step_thread.h"

namespace {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
   public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "Engine",
                           {InstanceMethod("createSequence", &EngineWrap::CreateSequence),
                            InstanceMethod("resetSequence", &EngineWrap::ResetSequence),
                            InstanceMethod("freeSequence", &EngineWrap::FreeSequence),
                            InstanceMethod("sequenceLength", &EngineWrap::SequenceLength),
                            InstanceMethod("truncateSequence", &EngineWrap::TruncateSequence),
                            InstanceMethod("step", &EngineWrap::Step), InstanceMethod("takeBack", &EngineWrap::TakeBack),
                            InstanceMethod("info", &EngineWrap::Info),
                            InstanceMethod("drawToken", &EngineWrap::DrawToken),
                            InstanceMethod("drawTokens", &EngineWrap::DrawTokens),
                            InstanceMethod("logprobs", &EngineWrap::Logprobs),
                            InstanceMethod("logprobsRows", &EngineWrap::LogprobsRows),
                            InstanceMethod("opTiming", &EngineWrap::OpTiming),
                            InstanceMethod("opTimes", &EngineWrap::OpTimes),
                            InstanceMethod("loadPlan", &EngineWrap::LoadPlan),
                            InstanceMethod("loadSlice", &EngineWrap::LoadSlice),
                            InstanceMethod("finishLoad", &EngineWrap::FinishLoad),
                            InstanceMethod("close", &EngineWrap::Close),
                            InstanceAccessor("runsAhead", &EngineWrap::RunsAhead, nullptr)});
    }

    explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
        Napi::Env env = info.Env();
        if (!info[0].IsObject()) {
            Napi::TypeError::New(env, "Engine(spec): spec object expected").ThrowAsJavaScriptException();
            return;
        }
        Napi::Object spec = info[0].As<Napi::Object>();
        engine_model_spec ms{};
        std::vector<engine_layer_refs> layers;
        std::vector<std::vector<engine_tensor_ref>> experts;
        std::string err;
        if (!read_spec(spec, &ms, &layers, &experts, &err)) {
            Napi::Error e = Napi::Error::New(env, "cannot load model: " + err);
            e.Set("code", "BAD_INPUT");
            e.ThrowAsJavaScriptException();
            return;
        }
        // deferred: no files; the slices of engine_load_plan arrive through loadSlice.
        engine_weights* weights = nullptr;
        engine_status s = ENGINE_OK;
        if (!spec.Get("deferred").ToBoolean().Value()) {
            Napi::Array files = spec.Get("files").As<Napi::Array>();
            std::vector<std::string> paths;
            for (uint32_t i = 0; i < files.Length(); i++) paths.push_back(files.Get(i).As<Napi::String>().Utf8Value());
            std::vector<const char*> cpaths;
            for (auto& p : paths) cpaths.push_back(p.c_str());
            const bool memory = spec.Get("weightsIn").As<Napi::String>().Utf8Value() == "memory";
            s = engine_weights_map(cpaths.data(), (int)cpaths.size(), memory ? 1 : 0, &weights);
            if (s != ENGINE_OK) {
                engine_error(env, s, "cannot load model: ").ThrowAsJavaScriptException();
                return;
            }
        }

        int threads = get_int(spec, "threads");
        if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
        backend_ = "cpu";
        isa_ = spec.Get("isa").As<Napi::String>().Utf8Value();
        const engine_options opts{backend_.c_str(),
                                  isa_.c_str(),
                                  threads,
                                  get_int(spec, "tp"),
                                  spec.Get("moeSplit").As<Napi::String>().Utf8Value() == "experts" ? ENGINE_MOE_SPLIT_EXPERTS
                                                                                                   : ENGINE_MOE_SPLIT_COLUMNS,
                                  get_int(spec, "kvDtype"),  // engine_kv_dtype (native.ts: KV_DTYPE_CODE)
                                  (int64_t)spec.Get("kvMaxBlocks").As<Napi::Number>().Int64Value()};
        vocab_ = ms.config.vocab_size;
        s = engine_create(&ms, weights, &opts, &e_);
        if (s != ENGINE_OK) {
            engine_error(env, s).ThrowAsJavaScriptException();
            return;
        }
        steps_ = std::make_unique<StepThread>(env, e_);
    }

    ~EngineWrap() override {
        steps_.reset();
        engine_free(e_);
    }

   private:
    // Open, and no step() in flight.
    bool idle(Napi::Env env) {
        if (!e_) Napi::Error::New(env, "engine is closed").ThrowAsJavaScriptException();
        else if (busy_) Napi::Error::New(env, "engine is busy with a step").ThrowAsJavaScriptException();
        return e_ && !busy_;
    }
    // Idle, and no step run ahead (step_ahead.h) left in sequences `ids` (all if null), nor
    // running: for every call but step(), which settles with the step run ahead itself.
    bool usable(Napi::Env env, const std::vector<int32_t>* ids = nullptr) {
        if (!idle(env)) return false;
        steps_->Settle(ids);
        return true;
    }
    // usable() for a call on one sequence, info[0].
    bool usable_for(const Napi::CallbackInfo& info) {
        const std::vector<int32_t> id{info[0].ToNumber().Int32Value()};
        return usable(info.Env(), &id);
    }
    // Sequence calls answer true/false: false means no such sequence (or truncation impossible).
    Napi::Value Bool(Napi::Env env, engine_status s) { return Napi::Boolean::New(env, s == ENGINE_OK); }

    Napi::Value CreateSequence(const Napi::CallbackInfo& info) {
        const std::vector<int32_t> none;
        if (!usable(info.Env(), &none)) return info.Env().Undefined();
        return Napi::Number::New(info.Env(), engine_seq_create(e_));
    }
    Napi::Value ResetSequence(const Napi::CallbackInfo& info) {
        if (!usable_for(info)) return info.Env().Undefined();
        return Bool(info.Env(), engine_seq_reset(e_, info[0].As<Napi::Number>().Int32Value()));
    }
    Napi::Value FreeSequence(const Napi::CallbackInfo& info) {
        if (!usable_for(info)) return info.Env().Undefined();
        return Bool(info.Env(), engine_seq_free(e_, info[0].As<Napi::Number>().Int32Value()));
    }
    Napi::Value TruncateSequence(const Napi::CallbackInfo& info) {
        if (!usable_for(info)) return info.Env().Undefined();
        return Bool(info.Env(), engine_seq_truncate(e_, info[0].As<Napi::Number>().Int32Value(),
                                                    info[1].As<Napi::Number>().Int64Value()));
    }
    Napi::Value SequenceLength(const Napi::CallbackInfo& info) {
        if (!usable_for(info)) return info.Env().Undefined();
        return Napi::Number::New(info.Env(), (double)engine_seq_length(e_, info[0].As<Napi::Number>().Int32Value()));
    }

    // step(seqIds: Int32Array, counts: Int32Array, allLogits: Uint8Array, tokens: Int32Array,
    //      out?: Float32Array, scan?: Int32Array, ahead?: boolean | draws, aheadTokens?: Int32Array)
    //   → Promise<Float32Array (rows, vocab)>:
    //   the logits in a fresh array, or in `out` (its first rows · vocab floats), which the
    //   caller keeps from step to step — a fresh one is memory the process has not touched yet,
    //   whose pages fault as the step writes them (engine.ts: reuseLogits). With `scan`, its
    //   first 2 · rows ints get engine_logits_scan's answers, on the step's thread. With
    //   `ahead`, the engine then runs the step after it (step_ahead.h); `aheadTokens` gets the
    //   token each row fed it (−1 in every row when none runs ahead).
    Napi::Value Step(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!idle(env)) return env.Undefined();
        if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
            !info[3].IsTypedArray()) {
            Napi::TypeError::New(env, "step(seqIds, counts, allLogits, tokens): typed arrays expected").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        Napi::Int32Array ids = info[0].As<Napi::Int32Array>(), counts = info[1].As<Napi::Int32Array>();
        Napi::Uint8Array all = info[2].As<Napi::Uint8Array>();
        Napi::Int32Array toks = info[3].As<Napi::Int32Array>();
        if (counts.ElementLength() != ids.ElementLength() || all.ElementLength() != ids.ElementLength()) {
            Napi::TypeError::New(env, "step: seqIds, counts and allLogits differ in length").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        std::vector<engine_step_seq> seqs(ids.ElementLength());
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
        Napi::Float32Array logits;
        const Napi::Value out = info[4];  // undefined when not passed
        if (!out.IsUndefined()) {
            if (!out.IsTypedArray() || out.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
                out.As<Napi::Float32Array>().ElementLength() < (size_t)(rows * vocab_)) {
                Napi::TypeError::New(env, "step: out must be a Float32Array of at least " + std::to_string(rows * vocab_) +
                                              " floats (rows " + std::to_string(rows) + " × vocabulary " + std::to_string(vocab_) + ")")
                    .ThrowAsJavaScriptException();
                return env.Undefined();
            }
            logits = out.As<Napi::Float32Array>();
        } else {
            logits = Napi::Float32Array::New(env, (size_t)(rows * vocab_));
        }
        Napi::Int32Array scan, ahead_tokens;
        const std::string of_rows = " a logits row, rows " + std::to_string(rows);
        if (!read_int32_out(env, info[5], 2 * rows, "scan", "2" + of_rows, &scan) ||
            !read_int32_out(env, info[7], rows, "aheadTokens", "1" + of_rows, &ahead_tokens))
            return env.Undefined();
        StepJob* job = NewJob(info.This().As<Napi::Object>());
        StepWork& w = job->work;
        const size_t seqs_n = seqs.size();
        w.seqs = std::move(seqs);
        w.tokens.assign(toks.Data(), toks.Data() + toks.ElementLength());
        w.logits = logits.Data();
        w.rows = rows;
        w.vocab = (int32_t)vocab_;
        w.scan = scan.IsEmpty() ? nullptr : scan.Data();
        job->logits_ref = Napi::Persistent(logits);
        if (!scan.IsEmpty()) job->scan_ref = Napi::Persistent(scan);
        if (!ahead_tokens.IsEmpty()) job->ahead_tokens_ref = Napi::Persistent(ahead_tokens), job->ahead_tokens = ahead_tokens.Data();
        job->ahead = info[6].ToBoolean().Value();
        if (!read_ahead_draws(env, info[6], seqs_n, &job->draws)) {
            delete job;
            return env.Undefined();
        }
        return Submit(env, job);
    }

    // takeBack(seqIds?: Int32Array) → Promise<void>: settles once these sequences' positions
    // of a step run ahead (all sequences' without seqIds) are taken back, for a caller about
    // to change them without waiting on the JS thread (usable()).
    Napi::Value TakeBack(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!idle(env)) return env.Undefined();
        StepJob* job = NewJob(info.This().As<Napi::Object>());
        job->ready = true;
        if (info[0].IsTypedArray()) {
            Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
            job->drop.assign(ids.Data(), ids.Data() + ids.ElementLength());
            job->drop_all = false;
        }
        return Submit(env, job);
    }

    StepJob* NewJob(Napi::Object self) { return new StepJob(self, &busy_, steps_.get()); }
    Napi::Value Submit(Napi::Env env, StepJob* job) {
        busy_ = true;
        Napi::Promise p = job->deferred.Promise();
        steps_->Submit(env, job);
        return p;
    }

    // drawToken(row: Float32Array, {temperature, topK, topP, minP, u, best}) → token:
    //   engine_logits_sample on the calling thread (no engine state: safe during a step).
    Napi::Value DrawToken(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        engine_draw d;
        if (info.Length() < 2 || !read_draw(env, info[0], info[1], "drawToken", &d)) return env.Undefined();
        return Napi::Number::New(env, engine_logits_sample(d.logits, d.vocab, d.temperature, d.top_k, d.top_p, d.min_p, d.u, d.best));
    }

    // drawTokens(rows: Float32Array[], draws: TokenDraw[]) → Int32Array: drawToken of each
    // row, on this thread and the engine's (engine_logits_sample_rows).
    Napi::Value DrawTokens(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!row_arrays(info, "drawTokens(rows: Float32Array[], draws)")) return env.Undefined();
        Napi::Array rows = info[0].As<Napi::Array>(), draws = info[1].As<Napi::Array>();
        std::vector<engine_draw> ds(rows.Length());
        for (uint32_t i = 0; i < rows.Length(); i++)
            if (!read_draw(env, rows.Get(i), draws.Get(i), "drawTokens", &ds[i])) return env.Undefined();
        Napi::Int32Array tokens = Napi::Int32Array::New(env, ds.size());
        const engine_status s = engine_logits_sample_rows(rows_engine(), ds.data(), (int32_t)ds.size(), tokens.Data());
        if (s != ENGINE_OK) {
            engine_error(env, s, "drawTokens: ").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        return tokens;
    }

    // logprobs(row: Float32Array, topN) → {lse, top: Int32Array}: engine_logits_logprobs on the
    // calling thread (no engine state: safe during a step).
    Napi::Value Logprobs(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        engine_logprobs_row r;
        std::vector<int32_t> ids;
        if (info.Length() < 2 || !read_logprobs_row(env, info[0], info[1], "logprobs", &r, &ids)) return env.Undefined();
        r.lse = engine_logits_logprobs(r.logits, r.vocab, r.top_n, r.top_ids, &r.n_top);
        return logprobs_value(env, r);
    }

    // logprobsRows(rows: Float32Array[], topN: number[]) → {lse, top}[]: logprobs of each row,
    // on this thread and the engine's (engine_logits_logprobs_rows).
    Napi::Value LogprobsRows(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!row_arrays(info, "logprobsRows(rows: Float32Array[], topN: number[])")) return env.Undefined();
        Napi::Array rows = info[0].As<Napi::Array>(), tops = info[1].As<Napi::Array>();
        std::vector<engine_logprobs_row> rs(rows.Length());
        std::vector<std::vector<int32_t>> ids(rows.Length());
        for (uint32_t i = 0; i < rows.Length(); i++)
            if (!read_logprobs_row(env, rows.Get(i), tops.Get(i), "logprobsRows", &rs[i], &ids[i])) return env.Undefined();
        const engine_status s = engine_logits_logprobs_rows(rows_engine(), rs.data(), (int32_t)rs.size());
        if (s != ENGINE_OK) {
            engine_error(env, s, "logprobsRows: ").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        Napi::Array out = Napi::Array::New(env, rs.size());
        for (uint32_t i = 0; i < rs.size(); i++) out.Set(i, logprobs_value(env, rs[i]));
        return out;
    }

    // runsAhead: whether the node should have the engine run steps ahead (step_ahead.h): this
    // engine, with a step thread of its own, always. Run ahead, a step overlaps the JavaScript
    // that reads the last one (streaming, sampling, the HTTP server): beside it on a core of its
    // own, steps come 1.25x as fast end to end (the default model, 1 thread, one greedy
    // request, 2 vCPUs); on the cores the engine's threads use too (2 threads, 2 vCPUs),
    // 1.05-1.22x for the default model and 1.01-1.08x for mixtral-mini and mistral-mini, since
    // the node takes the engine's draws (drawing each sampled token again on the JS thread, 4
    // sampled requests of the default model had come 0.81x as fast run ahead).
    Napi::Value RunsAhead(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), e_ != nullptr); }

    // Whose threads the per-row calls may use: the engine's while no step runs on them (busy_
    // is set and cleared on this thread; a step run ahead, StepThread::Running), else none
    // (null: the calling thread alone).
    engine* rows_engine() const { return busy_ || !e_ || steps_->Running() ? nullptr : e_; }

    Napi::Value Info(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        Napi::Object o = Napi::Object::New(env);
        engine_info ei{};
        if (e_) engine_get_info(e_, &ei);
        o.Set("backend", ei.backend);
        o.Set("isa", std::string(ei.backend).substr(std::string(ei.backend).find('/') + 1));
        o.Set("tp", ei.tp);
        o.Set("threadsPerShard", ei.threads_per_shard);
        o.Set("kvBlocksInUse", (double)ei.kv_blocks_in_use);
        o.Set("kvBlockSlots", ei.kv_block_slots);
        o.Set("kvBlockBytes", (double)ei.kv_block_bytes);
        const auto [answered, taken_back] = steps_ ? steps_->AheadCounts() : std::pair<uint64_t, uint64_t>{0, 0};
        o.Set("aheadAnswered", (double)answered);
        o.Set("aheadTakenBack", (double)taken_back);
        Napi::Array shards = Napi::Array::New(env, ei.tp);
        for (int s = 0; s < ei.tp; s++) shards.Set(s, (double)engine_shard_weight_bytes(e_, s));
        o.Set("weightBytesPerShard", shards);
        return o;
    }

    // opTiming(on): engine_op_timing. opTimes() → [{op, seconds, calls, weightBytes}], shard 0's.
    Napi::Value OpTiming(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        engine_op_timing(e_, info[0].ToBoolean().Value() ? 1 : 0);
        return info.Env().Undefined();
    }
    Napi::Value OpTimes(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!usable(env)) return env.Undefined();
        std::vector<engine_op_time> times(engine_op_times(e_, nullptr, 0));
        engine_op_times(e_, times.data(), (int32_t)times.size());
        Napi::Array out = Napi::Array::New(env, times.size());
        for (uint32_t i = 0; i < times.size(); i++) {
            Napi::Object o = Napi::Object::New(env);
            o.Set("op", times[i].op);
            o.Set("seconds", times[i].seconds);
            o.Set("calls", (double)times[i].calls);
            o.Set("weightBytes", times[i].weight_bytes);
            out.Set(i, o);
        }
        return out;
    }

    // loadPlan() → [{shard, file, offset, rows: [begin, end], cols: [begin, end], bytes}], index = position
    Napi::Value LoadPlan(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!usable(env)) return env.Undefined();
        std::vector<engine_slice> slices(engine_load_plan(e_, nullptr, 0));
        engine_load_plan(e_, slices.data(), (int32_t)slices.size());
        Napi::Array out = Napi::Array::New(env, slices.size());
        for (size_t i = 0; i < slices.size(); i++) {
            const engine_slice& sl = slices[i];
            Napi::Object o = Napi::Object::New(env);
            o.Set("shard", sl.shard);
            o.Set("file", sl.ref.file);
            o.Set("offset", (double)sl.ref.offset);
            Napi::Array rows = Napi::Array::New(env, 2), cols = Napi::Array::New(env, 2);
            rows.Set(0u, (double)sl.row_begin), rows.Set(1u, (double)sl.row_end);
            cols.Set(0u, (double)sl.col_begin), cols.Set(1u, (double)sl.col_end);
            o.Set("rows", rows);
            o.Set("cols", cols);
            o.Set("bytes", (double)sl.bytes);
            out.Set(i, o);
        }
        return out;
    }

    // loadSlice(index, bytes: Uint8Array): copies the slice into its shard.
    Napi::Value LoadSlice(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!usable(env)) return env.Undefined();
        if (!info[1].IsTypedArray()) {
            Napi::TypeError::New(env, "loadSlice(index, bytes): a Uint8Array expected").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
        const engine_status s = engine_load_slice(e_, info[0].As<Napi::Number>().Int32Value(), bytes.Data(), bytes.ByteLength());
        if (s != ENGINE_OK) engine_error(env, s).ThrowAsJavaScriptException();
        return env.Undefined();
    }

    Napi::Value FinishLoad(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!usable(env)) return env.Undefined();
        const engine_status s = engine_load_finish(e_);
        if (s != ENGINE_OK) engine_error(env, s).ThrowAsJavaScriptException();
        return env.Undefined();
    }

    Napi::Value Close(const Napi::CallbackInfo& info) {
        if (!usable(info.Env())) return info.Env().Undefined();
        steps_.reset();
        engine_free(e_);
        e_ = nullptr;
        return info.Env().Undefined();
    }

    engine* e_ = nullptr;
    std::unique_ptr<StepThread> steps_;  // while e_ lives
    bool busy_ = false;
    int64_t vocab_ = 0;
    std::string backend_, isa_;
};

// logitsScan(logits: Float32Array, vocab) → Int32Array (2 a row): engine_logits_scan of its
// whole rows, on the calling thread (step's `scan` does it on the step's).
Napi::Value LogitsScan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        !info[1].IsNumber() || info[1].As<Napi::Number>().Int32Value() < 1) {
        Napi::TypeError::New(env, "logitsScan(logits: Float32Array, vocab ≥ 1) expected").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    Napi::Float32Array logits = info[0].As<Napi::Float32Array>();
    const int32_t vocab = info[1].As<Napi::Number>().Int32Value();
    const int64_t rows = (int64_t)logits.ElementLength() / vocab;
    Napi::Int32Array out = Napi::Int32Array::New(env, (size_t)(2 * rows));
    engine_logits_scan(logits.Data(), rows, vocab, out.Data());
    return out;
}

// measureBandwidth(bytes, threads) → GB/s. Blocks the calling thread: for benchmarks only.
Napi::Value MeasureBandwidth(const Napi::CallbackInfo& info) {
    const double bytes = info[0].As<Napi::Number>().DoubleValue();
    int threads = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
    return Napi::Number::New(info.Env(), bandwidth_measure_read_threads((size_t)bytes, threads, 5));
}

// measureFmaPeak(isa, threads) → GFLOP/s of f32 FMAs with that kernel table ('' = best).
Napi::Value MeasureFmaPeak(const Napi::CallbackInfo& info) {
    const std::string isa = info[0].As<Napi::String>().Utf8Value();
    int threads = info[1].As<Napi::Number>().Int32Value();
    if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
    return Napi::Number::New(info.Env(), fma_peak_measure(isa.c_str(), threads));
}

// measureInt8Peak(isa, threads) → GOP/s of int8 multiply-adds with that kernel table.
Napi::Value MeasureInt8Peak(const Napi::CallbackInfo& info) {
    const std::string isa = info[0].As<Napi::String>().Utf8Value();
    int threads = info[1].As<Napi::Number>().Int32Value();
    if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
    return Napi::Number::New(info.Env(), int8_peak_measure(isa.c_str(), threads));
}

// measureBf16Peak(isa, threads) → GFLOP/s of the table's BF16 tile unit; 0 if it has none.
Napi::Value MeasureBf16Peak(const Napi::CallbackInfo& info) {
    const std::string isa = info[0].As<Napi::String>().Utf8Value();
    int threads = info[1].As<Napi::Number>().Int32Value();
    if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());
    return Napi::Number::New(info.Env(), bf16_peak_measure(isa.c_str(), threads));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("measureBf16Peak", Napi::Function::New(env, MeasureBf16Peak));
    exports.Set("measureInt8Peak", Napi::Function::New(env, MeasureInt8Peak));
    exports.Set("measureFmaPeak", Napi::Function::New(env, MeasureFmaPeak));
    exports.Set("Engine", EngineWrap::Define(env));
    exports.Set("measureBandwidth", Napi::Function::New(env, MeasureBandwidth));
    exports.Set("logitsScan", Napi::Function::New(env, LogitsScan));
    exports.Set("isas", Napi::String::New(env, engine_cpu_isas()));
    exports.Set("cpuTuning", Napi::String::New(env, engine_cpu_tuning()));
    exports.Set("kvBlockSlots", Napi::Number::New(env, engine_kv_block_slots()));
    return exports;
}

}  // namespace

NODE_API_MODULE(sirocco, Init)
