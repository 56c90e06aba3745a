#include "engine.h"

#include <cmath>
#include <cstring>
#include <unordered_set>

#include "attention.h"
#include "ffn.h"
#include "kernels.h"

engine* engine_init(model&& m, int n_threads, int64_t kv_max_blocks) {
    engine* e = new engine();
    e->m = std::move(m);
    const model_config& c = e->m.cfg;
    e->pool = thread_pool_init(n_threads);
    kv_pool_init(&e->kv, c.n_layers, c.n_kv_heads * c.head_dim, kv_max_blocks);
    // inv_freq[k] = theta^(-2k/D), in double: angles at position 30k must stay exact enough.
    for (int k = 0; k < c.head_dim / 2; k++) e->inv_freq.push_back(std::pow(c.rope_theta, -2.0 * k / c.head_dim));
    return e;
}

void engine_free(engine* e) {
    if (!e) return;
    for (kv_seq* s : e->seqs) delete s;
    kv_pool_free(&e->kv);
    thread_pool_free(e->pool);
    model_free(&e->m);
    delete e;
}

int engine_seq_create(engine* e) {
    kv_seq* s = new kv_seq();
    s->window = e->m.cfg.window;
    e->seqs.push_back(s);
    return (int)e->seqs.size() - 1;
}

static kv_seq* seq_at(const engine* e, int id) {
    return id >= 0 && id < (int)e->seqs.size() ? e->seqs[id] : nullptr;
}

bool engine_seq_reset(engine* e, int id) {
    kv_seq* s = seq_at(e, id);
    if (!s) return false;
    kv_seq_reset(&e->kv, s);
    return true;
}

bool engine_seq_free(engine* e, int id) {
    kv_seq* s = seq_at(e, id);
    if (!s) return false;
    kv_seq_reset(&e->kv, s);
    delete s;
    e->seqs[id] = nullptr;
    return true;
}

bool engine_seq_truncate(engine* e, int id, int64_t n) {
    kv_seq* s = seq_at(e, id);
    return s && kv_seq_truncate(&e->kv, s, n);
}

int64_t engine_seq_length(const engine* e, int id) {
    const kv_seq* s = seq_at(e, id);
    return s ? s->n_past : -1;
}

int64_t engine_step_logit_rows(const step_seq* seqs, int n_seqs) {
    int64_t rows = 0;
    for (int i = 0; i < n_seqs; i++) rows += seqs[i].all_logits ? seqs[i].n_tokens : 1;
    return rows;
}

// Rotates pair k of every head by pos · inv_freq[k]. The pair is (x[k], x[k + D/2]) in the
// HF rotate_half layout, (x[2k], x[2k+1]) in the interleaved one.   D 8: pair 1 = (1, 5) or (2, 3)
static void rope_rotate(float* x, int n_heads, int D, bool interleaved, const float* cos_t, const float* sin_t) {
    const int half = D / 2;
    const int first_step = interleaved ? 2 : 1, second = interleaved ? 1 : half;
    for (int h = 0; h < n_heads; h++) {
        float* v = x + (int64_t)h * D;
        for (int k = 0; k < half; k++) {
            float* p = v + k * first_step;
            const float a = p[0], b = p[second];
            p[0] = a * cos_t[k] - b * sin_t[k];
            p[second] = b * cos_t[k] + a * sin_t[k];
        }
    }
}

static bool check_step(const engine* e, const step_seq* seqs, int n_seqs, const int32_t* tokens, std::string* err) {
    if (n_seqs <= 0) return *err = "step needs at least one sequence", false;
    std::unordered_set<int> seen;
    int64_t t = 0;
    for (int i = 0; i < n_seqs; i++) {
        const step_seq& s = seqs[i];
        if (!seq_at(e, s.seq_id)) return *err = "sequence " + std::to_string(s.seq_id) + " does not exist", false;
        if (!seen.insert(s.seq_id).second)
            return *err = "sequence " + std::to_string(s.seq_id) + " appears twice in one step", false;
        if (s.n_tokens <= 0) return *err = "sequence " + std::to_string(s.seq_id) + " has no tokens", false;
        for (int j = 0; j < s.n_tokens; j++, t++)
            if (tokens[t] < 0 || tokens[t] >= e->m.cfg.vocab_size)
                return *err = "token id " + std::to_string(tokens[t]) + " is outside the vocabulary [0, " +
                              std::to_string(e->m.cfg.vocab_size) + ")",
                       false;
    }
    return true;
}

static void add_into(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

bool engine_step(engine* e, const step_seq* seqs, int n_seqs, const int32_t* tokens, float* logits,
                 std::string* err) {
    if (!check_step(e, seqs, n_seqs, tokens, err)) return false;
    const model& m = e->m;
    const model_config& c = m.cfg;
    const int hidden = c.hidden_size, H = c.n_heads, KV = c.n_kv_heads, D = c.head_dim;
    const int q_dim = H * D, kv_dim = KV * D, half = D / 2;

    std::vector<attn_chunk> chunks;
    int T = 0;
    for (int i = 0; i < n_seqs; i++) {
        kv_seq* s = e->seqs[seqs[i].seq_id];
        if (!kv_seq_reserve(&e->kv, s, seqs[i].n_tokens))
            return *err = "K/V cache memory is exhausted: free or reset sequences", false;
        chunks.push_back({s, T, seqs[i].n_tokens});
        T += seqs[i].n_tokens;
    }

    // Activations for this step: x is the residual stream, xn its normed copy.
    std::vector<float> x((size_t)T * hidden), xn((size_t)T * hidden), tmp((size_t)T * hidden);
    std::vector<float> q((size_t)T * q_dim), k((size_t)T * kv_dim), v((size_t)T * kv_dim), att((size_t)T * q_dim);
    std::vector<float> cos_t((size_t)T * half), sin_t((size_t)T * half);
    for (int t = 0; t < T; t++) tensor_row_f32(m.embed, tokens[t], &x[(size_t)t * hidden]);
    for (const attn_chunk& ch : chunks)
        for (int j = 0; j < ch.n_tok; j++) {
            const double pos = (double)(ch.seq->n_past + j);
            for (int f = 0; f < half; f++) {
                const double angle = pos * e->inv_freq[f];
                cos_t[(size_t)(ch.tok_offset + j) * half + f] = (float)std::cos(angle);
                sin_t[(size_t)(ch.tok_offset + j) * half + f] = (float)std::sin(angle);
            }
        }

    const attn_shape shape{H, KV, D};
    for (int l = 0; l < c.n_layers; l++) {
        const layer_weights& lw = m.layers[l];
        for (int t = 0; t < T; t++)
            rmsnorm(&xn[(size_t)t * hidden], &x[(size_t)t * hidden], lw.attn_norm.data(), hidden, c.rms_eps);
        matmul(e->pool, q.data(), xn.data(), lw.wq, T);
        matmul(e->pool, k.data(), xn.data(), lw.wk, T);
        matmul(e->pool, v.data(), xn.data(), lw.wv, T);
        for (int t = 0; t < T; t++) {
            rope_rotate(&q[(size_t)t * q_dim], H, D, c.rope_interleaved, &cos_t[(size_t)t * half], &sin_t[(size_t)t * half]);
            rope_rotate(&k[(size_t)t * kv_dim], KV, D, c.rope_interleaved, &cos_t[(size_t)t * half], &sin_t[(size_t)t * half]);
        }
        if (!attention_forward(e->pool, &e->kv, l, chunks.data(), (int)chunks.size(), shape, q.data(), k.data(),
                               v.data(), att.data()))
            return *err = "internal error: a K/V cache slot holds the wrong position", false;
        for (const attn_chunk& ch : chunks) attention_cache_write(&e->kv, l, ch, k.data(), v.data());
        matmul(e->pool, tmp.data(), att.data(), lw.wo, T);
        add_into(x.data(), tmp.data(), x.size());

        for (int t = 0; t < T; t++)
            rmsnorm(&xn[(size_t)t * hidden], &x[(size_t)t * hidden], lw.ffn_norm.data(), hidden, c.rms_eps);
        if (c.n_experts > 0)
            ffn_moe(e->pool, lw, c, xn.data(), T, tmp.data());
        else
            ffn_dense(e->pool, lw.w1, lw.w3, lw.w2, xn.data(), T, tmp.data());
        add_into(x.data(), tmp.data(), x.size());
    }
    for (const attn_chunk& ch : chunks) attention_cache_commit(ch);

    // Final norm and lm_head only for the rows whose logits were asked for.
    int rows = 0;
    for (int i = 0; i < n_seqs; i++) {
        const attn_chunk& ch = chunks[i];
        const int first = seqs[i].all_logits ? 0 : ch.n_tok - 1;
        for (int j = first; j < ch.n_tok; j++, rows++)
            rmsnorm(&xn[(size_t)rows * hidden], &x[(size_t)(ch.tok_offset + j) * hidden], m.final_norm.data(), hidden,
                    c.rms_eps);
    }
    matmul(e->pool, logits, xn.data(), m.lm_head, rows);
    return true;
}
