// An engine's steps, run on a thread of its own and settled on the JS thread; and the decode
// step that thread runs ahead while the JS thread reads the last one (step_ahead.h).
#pragma once
#include <napi.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine_api.h"

#include "engine_errors.h"
#include "step_ahead.h"

// One step() (or takeBack()): what it reads and writes, and the Promise it settles. Made and
// settled on the JS thread (its references too); its work on the engine's step thread.
struct StepJob {
    StepJob(Napi::Object engine, bool* busy, class StepThread* thread)
        : owner(Napi::Persistent(engine)), deferred(Napi::Promise::Deferred::New(engine.Env())), busy(busy), thread(thread) {}

    Napi::ObjectReference owner;  // keeps the Engine (and so the engine) alive until the step ends
    Napi::Promise::Deferred deferred;
    StepWork work;
    Napi::Reference<Napi::Float32Array> logits_ref;  // resolves to it; empty: to undefined
    Napi::Reference<Napi::Int32Array> scan_ref;
    Napi::Reference<Napi::Int32Array> ahead_tokens_ref;
    int32_t* ahead_tokens = nullptr;  // by row: the token each fed the step run after this one (−1: none ran)
    bool* busy;  // the Engine's: false again once settled
    class StepThread* thread;
    bool ahead = false;          // asked: run the next step after this one …
    std::vector<engine_draw> draws;  // … each row's token drawn so (temperature 0 or none: its argmax)
    bool ready = false;          // nothing to run: results from the step run ahead, or none asked (takeBack)
    std::vector<int32_t> drop;   // takeBack(ids): the sequences to take back …
    bool drop_all = true;        // … or all of them (a step() the step run ahead cannot answer)
    SequenceLengths taken_back;  // positions of the step run ahead to take back before this one

    void Settle(Napi::Env env) {
        if (work.status == ENGINE_OK)
            return deferred.Resolve(logits_ref.IsEmpty() ? env.Undefined() : (Napi::Value)logits_ref.Value());
        Napi::Error err = Napi::Error::New(env, work.message);
        err.Set("code", status_code(work.status));
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

    StepThread(Napi::Env env, engine* e) : e_(e) {
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

    // On the JS thread: answers job from the step run ahead if it asks for its rows, else
    // takes back what it must; the rest (or all) on the step thread, then the Promise is
    // settled on the JS thread.
    void Submit(Napi::Env env, StepJob* job) {
        done_.Ref(env);
        {
            std::lock_guard<std::mutex> lock(mu_);
            std::vector<int> rows;
            if (ahead_.state == StepAhead::RUNNING && ahead_.rows_for(job->work, &rows)) {
                waiter_ = {job, std::move(rows)};  // answered when the step ends
                return;
            }
            if (ahead_.state == StepAhead::DONE && ahead_.work.status == ENGINE_OK && ahead_.rows_for(job->work, &rows)) {
                ahead_.answer(rows, &job->work, &job->taken_back);
                job->ready = true;
            } else if (ahead_.state != StepAhead::NONE) {
                ahead_.drop(job->drop_all ? nullptr : &job->drop, &job->taken_back);
            }
            job_ = job;
        }
        wake_.notify_one();
    }

    // On the JS thread, before a call that reads or changes sequences `ids` (all if null; none
    // for a call that only must not run beside a step): waits for a step run ahead (the rest
    // of one step at most) and takes back their positions. A caller that must not wait calls
    // takeBack() first.
    void Settle(const std::vector<int32_t>* ids) {
        std::unique_lock<std::mutex> lock(mu_);
        ahead_ended_.wait(lock, [&] { return ahead_.state != StepAhead::RUNNING; });
        SequenceLengths back;
        if (ahead_.state == StepAhead::DONE) ahead_.drop(ids, &back);
        take_back(e_, back);  // the step thread is idle
    }

    // Whether a step runs ahead now (on the engine's threads).
    bool Running() {
        std::lock_guard<std::mutex> lock(mu_);
        return ahead_.state == StepAhead::RUNNING;
    }
    // step() calls answered from a step run ahead so far, and positions taken back.
    std::pair<uint64_t, uint64_t> AheadCounts() {
        std::lock_guard<std::mutex> lock(mu_);
        return {ahead_.answered, ahead_.taken_back};
    }
    void Unref(Napi::Env env) { done_.Unref(env); }

   private:
    // Sets up the step after `done` (which asked for it, drawing its tokens so): false if it
    // cannot follow (a sequence with several rows, a failed step).
    bool PlanAhead(const StepWork& done, const std::vector<engine_draw>& draws) {
        if (done.status != ENGINE_OK || done.rows != (int64_t)done.seqs.size()) return false;
        const int64_t n = done.rows;
        ahead_logits_.resize((size_t)(n * done.vocab));
        ahead_scan_.resize((size_t)(2 * n));
        std::vector<int32_t> scan;
        const int32_t* s = done.scan;
        if (!s) {
            scan.resize((size_t)(2 * n));
            engine_logits_scan(done.logits, n, done.vocab, scan.data());
            s = scan.data();
        }
        StepWork next;
        if (!next_tokens(e_, done, draws, s, &next.tokens)) return false;
        SequenceLengths lengths;
        for (int64_t i = 0; i < n; i++) {
            const int32_t id = done.seqs[i].seq_id;
            next.seqs.push_back({id, 1, 0});
            lengths.emplace_back(id, engine_seq_length(e_, id));
        }
        next.logits = ahead_logits_.data();
        next.rows = n;
        next.vocab = done.vocab;
        next.scan = ahead_scan_.data();
        std::lock_guard<std::mutex> lock(mu_);
        ahead_.state = StepAhead::RUNNING;
        ahead_.work = std::move(next);
        ahead_.lengths = std::move(lengths);
        ahead_.kept.assign((size_t)n, 1);
        return true;
    }

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
            take_back(e_, job->taken_back);
            if (!job->ready) job->work.Run(e_);
            RunAhead(job);
        }
    }

    // Settles job, and while each job asks for it, runs the decode step after it, which may
    // answer the step() that arrives for it meanwhile, and so on.
    void RunAhead(StepJob* job) {
        while (job) {
            const bool ahead = job->ahead && PlanAhead(job->work, job->draws);
            for (int64_t i = 0; job->ahead_tokens && i < job->work.rows; i++) job->ahead_tokens[i] = ahead ? ahead_.work.tokens[i] : -1;
            done_.NonBlockingCall(job);  // job is the JS thread's from here
            if (!ahead) return;
            ahead_.work.Run(e_);  // meanwhile the JS thread touches only its seqs, tokens and kept (under mu_)
            {
                std::lock_guard<std::mutex> lock(mu_);
                ahead_.state = StepAhead::DONE;
                job = waiter_.first;
                if (job && ahead_.work.status == ENGINE_OK) {
                    ahead_.answer(waiter_.second, &job->work, &job->taken_back);
                    job->ready = true;
                } else if (job) {
                    ahead_.drop(nullptr, &job->taken_back);  // it failed: job's step runs itself
                }
                if (!ahead_.any_kept()) ahead_.state = StepAhead::NONE;
                waiter_ = {};
            }
            ahead_ended_.notify_all();
            if (!job) return;
            take_back(e_, job->taken_back);
            if (!job->ready) job->work.Run(e_);
        }
    }

    engine* e_;
    Done done_;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable wake_, ahead_ended_;
    StepJob* job_ = nullptr;
    bool stop_ = false;
    StepAhead ahead_;  // under mu_, but for its work while it runs
    std::pair<StepJob*, std::vector<int>> waiter_;  // the step() for it (and its rows), come while it ran
    std::vector<float> ahead_logits_;  // the step run ahead's (rows, vocab)
    std::vector<int32_t> ahead_scan_;
};

inline void settle_step(Napi::Env env, Napi::Function, void*, StepJob* job) {
    if (env == nullptr) return;  // the environment is gone: nothing to settle (its references went with it)
    *job->busy = false;
    job->thread->Unref(env);
    job->Settle(env);
    delete job;
}
