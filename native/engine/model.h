// Model configuration and weights. Weight files are memory-mapped read-only (or read into
// memory, see model_map_file) and used in place in their stored dtype; only the small norm
// vectors are widened to owned f32 copies. The TypeScript loader
// has already validated every header, offset, dtype and shape; this side checks again that
// each tensor lies inside its mapped file, because a bad pointer here would crash the process.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"

struct model_config {
    int vocab_size, hidden_size, intermediate_size, n_layers;
    int n_heads, n_kv_heads, head_dim;
    int n_experts;   // 0 = dense SwiGLU (Mistral); else sparse MoE (Mixtral)
    int top_k;       // experts per token
    int window;      // sliding window W, 0 = full attention
    float rms_eps;
    double rope_theta;
    // RoPE pairs: false = HF rotate_half (x[k], x[k + D/2]); true = Mistral's own consolidated
    // checkpoints and GGUF, (x[2k], x[2k+1]). Both give the same logits for the same model;
    // the q/k rows of the two layouts are permutations of each other (DESIGN.md §2).
    bool rope_interleaved;
};

struct layer_weights {
    std::vector<float> attn_norm;  // (hidden)
    tensor wq;                     // (n_heads·head_dim, hidden)
    tensor wk, wv;                 // (n_kv_heads·head_dim, hidden)
    tensor wo;                     // (hidden, n_heads·head_dim)
    std::vector<float> ffn_norm;   // (hidden)
    // dense: w1 = gate_proj, w3 = up_proj (inter, hidden); w2 = down_proj (hidden, inter)
    tensor w1, w2, w3;
    tensor router;                 // (n_experts, hidden)
    std::vector<tensor> expert_w1, expert_w2, expert_w3;  // n_experts each, shapes as dense
};

struct mapped_file {
    void* addr = nullptr;
    size_t size = 0;
};

struct model {
    model_config cfg{};
    std::vector<mapped_file> files;
    tensor embed;                  // (vocab, hidden)
    std::vector<float> final_norm; // (hidden)
    tensor lm_head;                // (vocab, hidden); == embed when tied
    std::vector<layer_weights> layers;
};

// Where a tensor is: which mapped file, byte offset, dtype and shape.
struct tensor_ref {
    int file;
    uint64_t offset;
    dtype_t dtype;
    int64_t rows, cols;  // 1-D tensors: rows = 1
};

// Maps a file read-only (copy = false), or reads it into anonymous huge-page memory
// (copy = true). Either way the weights are then used in place. false + *err on failure.
bool model_map_file(model* m, const std::string& path, bool copy, std::string* err);
// Resolves a ref against the mapped files, checking bounds. false + *err naming `name`.
bool model_tensor(const model* m, const tensor_ref& ref, const std::string& name, tensor* out, std::string* err);
bool model_vector_f32(const model* m, const tensor_ref& ref, const std::string& name, std::vector<float>* out,
                      std::string* err);
void model_free(model* m);
