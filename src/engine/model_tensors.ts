// The tensors a config needs, by Hugging Face name and shape, and how they map onto the
// engine's roles (wq, w1, router, …). The single place that knows HF tensor names.
import type { ModelConfig } from './config.ts';

export type TensorSpec = { name: string; shape: number[]; why: string };

export type LayerNames = {
  attnNorm: string;
  wq: string;
  wk: string;
  wv: string;
  wo: string;
  ffnNorm: string;
  dense?: { w1: string; w2: string; w3: string };
  moe?: { router: string; experts: { w1: string; w2: string; w3: string }[] };
};

export function layerNames(config: ModelConfig, i: number): LayerNames {
  const p = `model.layers.${i}`;
  const base = {
    attnNorm: `${p}.input_layernorm.weight`,
    wq: `${p}.self_attn.q_proj.weight`,
    wk: `${p}.self_attn.k_proj.weight`,
    wv: `${p}.self_attn.v_proj.weight`,
    wo: `${p}.self_attn.o_proj.weight`,
    ffnNorm: `${p}.post_attention_layernorm.weight`,
  };
  if (config.numExperts === 0)
    return { ...base, dense: { w1: `${p}.mlp.gate_proj.weight`, w2: `${p}.mlp.down_proj.weight`, w3: `${p}.mlp.up_proj.weight` } };
  const experts = Array.from({ length: config.numExperts }, (_, e) => {
    const q = `${p}.block_sparse_moe.experts.${e}`;
    return { w1: `${q}.w1.weight`, w2: `${q}.w2.weight`, w3: `${q}.w3.weight` };
  });
  return { ...base, moe: { router: `${p}.block_sparse_moe.gate.weight`, experts } };
}

export const EMBED = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

// Every tensor the config requires (lm_head is optional: absent means tied).
export function requiredTensors(c: ModelConfig): TensorSpec[] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const specs: TensorSpec[] = [
    { name: EMBED, shape: [c.vocabSize, H], why: `vocab_size=${c.vocabSize}, hidden_size=${H}` },
    { name: FINAL_NORM, shape: [H], why: `hidden_size=${H}` },
  ];
  const attnWhy = `hidden_size=${H}, heads=${c.numHeads}, kv_heads=${c.numKvHeads}, head_dim=${c.headDim}`;
  const ffnWhy = `hidden_size=${H}, intermediate_size=${c.intermediateSize}`;
  for (let i = 0; i < c.numLayers; i++) {
    const n = layerNames(c, i);
    specs.push(
      { name: n.attnNorm, shape: [H], why: `hidden_size=${H}` },
      { name: n.ffnNorm, shape: [H], why: `hidden_size=${H}` },
      { name: n.wq, shape: [q, H], why: attnWhy },
      { name: n.wk, shape: [kv, H], why: attnWhy },
      { name: n.wv, shape: [kv, H], why: attnWhy },
      { name: n.wo, shape: [H, q], why: attnWhy },
    );
    const ffn = n.dense ? [n.dense] : n.moe!.experts;
    if (n.moe) specs.push({ name: n.moe.router, shape: [c.numExperts, H], why: `num_local_experts=${c.numExperts}` });
    for (const f of ffn)
      specs.push(
        { name: f.w1, shape: [c.intermediateSize, H], why: ffnWhy },
        { name: f.w3, shape: [c.intermediateSize, H], why: ffnWhy },
        { name: f.w2, shape: [H, c.intermediateSize], why: ffnWhy },
      );
  }
  return specs;
}

// Buffers some checkpoints carry that the engine recomputes.
export const IGNORED_TENSOR = /\.rotary_emb\.inv_freq$/;
