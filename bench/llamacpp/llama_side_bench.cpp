// llama.cpp's half of the side-by-side bench (bench/llamacpp/compare.ts): the two tests of
// llama-bench, timed its way, through llama.h (the npm copies of llama.cpp carry no tools):
//   pp N  — a cleared cache, then one N-token prompt of random ids, one llama_decode
//   tg N  — a cleared cache (or one prefilled to --depth), then N single-token decodes; with
//           --sequences S, S sequences (a 16-token prompt each, not timed) decoding together,
//           S tokens a llama_decode (llama.cpp's batched-bench)
// one untimed warm-up of each, then --reps timed runs; prints one JSON line of the times.
// Weights read into memory (no mmap), the CPU backend only, K/V in f16 (llama.cpp's default).
// --check 1: no timing; the logits after a fixed prompt (sirocco_side.ts --check prints
// Sirocco's), which says the GGUF file computes what the bench's model does.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "llama.h"

struct options {
    std::string model;
    int threads = 2, prompt = 256, gen = 64, depth = 0, reps = 5, batch = 2048, ubatch = 512, sequences = 1;
    int flash_attn = -1;  // -1: llama.cpp's default (auto), 0 off, 1 on
    int check = 0;        // 1: print the logits after check_prompt instead of timing
};

// The prompt of --check 1: bench/engine_timings.ts's tokens(V, 16, 7), so both engines see it.
static std::vector<llama_token> check_prompt(int vocab) {
    std::vector<llama_token> t(16);
    for (int i = 0; i < 16; i++) t[i] = 3 + (int)((7LL * 7919 + i * 104729LL) % (vocab - 3));
    return t;
}

static double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

static bool decode(llama_context* ctx, std::vector<llama_token>& tokens, int batch) {
    for (size_t at = 0; at < tokens.size(); at += batch) {
        const int n = (int)std::min<size_t>(batch, tokens.size() - at);
        if (llama_decode(ctx, llama_batch_get_one(tokens.data() + at, n)) != 0) return false;
    }
    llama_synchronize(ctx);
    return true;
}

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--model") o.model = v;
        else if (k == "--threads") o.threads = atoi(v);
        else if (k == "--prompt") o.prompt = atoi(v);
        else if (k == "--gen") o.gen = atoi(v);
        else if (k == "--depth") o.depth = atoi(v);
        else if (k == "--reps") o.reps = atoi(v);
        else if (k == "--flash-attn") o.flash_attn = atoi(v);
        else if (k == "--check") o.check = atoi(v);
        else if (k == "--sequences") o.sequences = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
    }
    if (o.model.empty()) {
        fprintf(stderr, "usage: llama_side_bench --model F.gguf [--threads T --prompt N --gen N --depth N --reps R --flash-attn -1|0|1 --check 0|1 --sequences S]\n");
        return 2;
    }
    llama_log_set([](ggml_log_level level, const char* text, void*) { if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr); }, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.load_mode = LLAMA_LOAD_MODE_NONE;  // read into memory, no mmap
    llama_model* model = llama_model_load_from_file(o.model.c_str(), mp);
    if (!model) { fprintf(stderr, "could not load %s\n", o.model.c_str()); return 1; }
    llama_context_params cp = llama_context_default_params();
    const int seq_prompt = 16;  // each sequence's prompt before a batched tg
    cp.n_ctx = std::max(o.depth + o.prompt + o.gen + 16, o.sequences * (seq_prompt + o.gen + 16));
    cp.n_seq_max = o.sequences;
    cp.n_batch = o.batch;
    cp.n_ubatch = o.ubatch;
    cp.n_threads = cp.n_threads_batch = o.threads;
    if (o.flash_attn >= 0) cp.flash_attn_type = o.flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context* ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "could not create a context\n"); return 1; }
    const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    if (o.check) {  // the last position's logits: argmax and the first 8, as JSON
        std::vector<llama_token> p = check_prompt(vocab);
        if (!decode(ctx, p, o.batch)) return 1;
        const float* l = llama_get_logits_ith(ctx, -1);
        printf("{\"argmax\":%d,\"first\":[", (int)(std::max_element(l, l + vocab) - l));
        for (int i = 0; i < 8; i++) printf("%s%.5f", i ? "," : "", l[i]);
        printf("]}\n");
        return 0;
    }
    std::mt19937 rng(1);
    auto random_tokens = [&](int n) {
        std::vector<llama_token> t(n);
        for (auto& x : t) x = (llama_token)(rng() % vocab);
        return t;
    };
    // S sequences: a prompt each, then gen steps of one token each; seconds of the steps.
    auto batched_tg = [&]() -> double {
        const int S = o.sequences;
        llama_batch b = llama_batch_init(S * seq_prompt, 0, 1);
        auto add = [&](llama_token t, int pos, int seq, bool logits) {
            const int i = b.n_tokens++;
            b.token[i] = t, b.pos[i] = pos, b.n_seq_id[i] = 1, b.seq_id[i][0] = seq, b.logits[i] = logits;
        };
        for (int s = 0; s < S; s++)
            for (int i = 0; i < seq_prompt; i++) add((llama_token)(rng() % vocab), i, s, i == seq_prompt - 1);
        bool ok = llama_decode(ctx, b) == 0;
        const double t0 = now_s();
        for (int i = 0; ok && i < o.gen; i++) {
            b.n_tokens = 0;
            for (int s = 0; s < S; s++) add((llama_token)(rng() % vocab), seq_prompt + i, s, true);
            ok = llama_decode(ctx, b) == 0;
        }
        llama_synchronize(ctx);
        const double t = now_s() - t0;
        llama_batch_free(b);
        return ok ? t : -1;
    };
    // One run of a test: seconds of its timed part (a depth prefill is not timed).
    auto run = [&](bool prompt) -> double {
        llama_memory_clear(llama_get_memory(ctx), false);
        if (o.depth > 0) {
            std::vector<llama_token> d = random_tokens(o.depth);
            if (!decode(ctx, d, o.batch)) return -1;
        }
        const double t0 = now_s();
        if (prompt) {
            std::vector<llama_token> p = random_tokens(o.prompt);
            if (!decode(ctx, p, o.batch)) return -1;
        } else if (o.sequences == 1) {
            for (int i = 0; i < o.gen; i++) {
                std::vector<llama_token> one = random_tokens(1);
                if (!decode(ctx, one, 1)) return -1;
            }
        } else {
            return batched_tg();
        }
        return now_s() - t0;
    };
    printf("{\"threads\":%d,\"prompt\":%d,\"gen\":%d,\"depth\":%d,\"sequences\":%d,\"system\":\"%s\"", o.threads, o.prompt, o.gen, o.depth, o.sequences, llama_print_system_info());
    for (int prompt = 1; prompt >= 0; prompt--) {
        if ((prompt ? o.prompt : o.gen) == 0) continue;
        run(prompt);  // warm-up
        printf(",\"%s_s\":[", prompt ? "pp" : "tg");
        for (int r = 0; r < o.reps; r++) {
            const double s = run(prompt);
            if (s < 0) { fprintf(stderr, "llama_decode failed\n"); return 1; }
            printf("%s%.6f", r ? "," : "", s);
        }
        printf("]");
    }
    printf("}\n");
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
