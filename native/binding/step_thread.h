// An engine's steps, run on a thread of its own and settled on the JS thread.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine_api.h"

#include "engine_errors.h"

// One step: what it reads and writes, and the Promise it settles. Made and settled on the JS
// thread (its references too); Run() on the engine's step thread.
struct StepJob {
    Napi::ObjectReference owner;  // keeps the Engine (and so the engine) alive until the step ends
    Napi::Promise::Deferred deferred;
    engine* e;
    std::vector<engine_step_seq> seqs;
    std::vector<int32_t> tokens;
    Napi::Reference<Napi::Float32Array> logits_ref;
    float* logits;
    int64_t rows;
    int32_t vocab;
    Napi::Reference<Napi::Int32Array> scan_ref;  // engine_logits_scan's out, when asked for
    int32_t* scan = nullptr;
    engine_status status = ENGINE_OK;
    std::string message;
    bool* busy;            // the Engine's: false again once settled
    class StepThread* thread;

    void Run() {
        status = engine_step(e, seqs.data(), (int)seqs.size(), tokens.data(), logits);
        if (status != ENGINE_OK) message = engine_last_error();  // same thread as the step
        else if (scan) engine_logits_scan(logits, rows, vocab, scan);
    }
    void Settle(Napi::Env env) {
        if (status == ENGINE_OK) return deferred.Resolve(logits_ref.Value());
        Napi::Error err = Napi::Error::New(env, message);
        err.Set("code", status_code(status));
        deferred.Reject(err.Value());
    }
};

// On the JS thread, after the step: the Promise settled, the Engine free again.
inline void settle_step(Napi::Env env, Napi::Function, void*, StepJob* job);

// The thread that runs an engine's steps, one for the engine's life. libuv's pool (4 threads)
// handed each step to any of its threads, and the step's thread is one of the two the kernels
// run on: now and then to one the scheduler had to find a core for, a slow step. From a thread
// of its own, mistral-mini Q4_0 batch-1 decode (2 threads, 300 steps, 8 alternating runs each)
// took 0.97× the time on average (8 of 8; the median step unchanged: fewer slow steps), and the
// node's file and crypto work keeps all of libuv's pool. A finished step goes back to the JS
// thread through `done_`.
class StepThread {
   public:
    using Done = Napi::TypedThreadSafeFunction<void, StepJob, settle_step>;

    explicit StepThread(Napi::Env env) {
        done_ = Done::New(env, "sirocco step", 0, 1);
        done_.Unref(env);  // an idle engine keeps no process alive
        thread_ = std::thread([this] { Loop(); });
    }
    ~StepThread() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
        done_.Release();
    }
    // On the JS thread: runs job->Run() on the step thread, then settle(env, job) on the JS thread.
    void Post(Napi::Env env, StepJob* job) {
        done_.Ref(env);
        {
            std::lock_guard<std::mutex> lock(mu_);
            job_ = job;
        }
        wake_.notify_one();
    }
    void Unref(Napi::Env env) { done_.Unref(env); }

   private:
    void Loop() {
        for (;;) {
            StepJob* job;
            {
                std::unique_lock<std::mutex> lock(mu_);
                wake_.wait(lock, [&] { return stop_ || job_; });
                if (!job_) return;  // stopping, nothing in flight
                job = job_;
                job_ = nullptr;
            }
            job->Run();
            done_.NonBlockingCall(job);
        }
    }
    Done done_;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable wake_;
    StepJob* job_ = nullptr;
    bool stop_ = false;
};

inline void settle_step(Napi::Env env, Napi::Function, void*, StepJob* job) {
    if (env == nullptr) return;  // the environment is gone: nothing to settle (its references went with it)
    *job->busy = false;
    job->thread->Unref(env);
    job->Settle(env);
    delete job;
}
