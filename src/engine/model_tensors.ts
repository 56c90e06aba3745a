// The tensors a config needs, by name and shape, and how they map onto the engine's roles
// (wq, w1, router, …). Two naming schemes: Hugging Face's (model.layers.0.self_attn.q_proj…)
// and Mistral's own consolidated checkpoints (layers.0.attention.wq…). The only place that
// knows tensor names.
import type { ModelConfig } from './config.ts';

export type TensorSpec = { name: string; shape: number[]; why: string };

type FfnNames = { w1: string; w2: string; w3: string };

export type LayerNames = {
  attnNorm: string;
  wq: string;
  wk: string;
  wv: string;
  wo: string;
  ffnNorm: string;
  dense?: FfnNames;
  moe?: { router: string; experts: FfnNames[] };
};

export type TensorNaming = {
  embed: string;
  finalNorm: string;
  lmHead: string; // optional in a checkpoint: absent means tied to embed
  layer: (config: ModelConfig, i: number) => LayerNames;
  ignored: RegExp; // buffers some checkpoints carry that the engine recomputes
};

const experts = (config: ModelConfig, prefix: (e: number) => string): FfnNames[] =>
  Array.from({ length: config.numExperts }, (_, e) => ({ w1: `${prefix(e)}.w1.weight`, w2: `${prefix(e)}.w2.weight`, w3: `${prefix(e)}.w3.weight` }));

export const HF_NAMING: TensorNaming = {
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  ignored: /\.rotary_emb\.inv_freq$/,
  layer: (config, i) => {
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
    return {
      ...base,
      moe: { router: `${p}.block_sparse_moe.gate.weight`, experts: experts(config, (e) => `${p}.block_sparse_moe.experts.${e}`) },
    };
  },
};

export const MISTRAL_NAMING: TensorNaming = {
  embed: 'tok_embeddings.weight',
  finalNorm: 'norm.weight',
  lmHead: 'output.weight',
  ignored: /^$/,
  layer: (config, i) => {
    const p = `layers.${i}`;
    const base = {
      attnNorm: `${p}.attention_norm.weight`,
      wq: `${p}.attention.wq.weight`,
      wk: `${p}.attention.wk.weight`,
      wv: `${p}.attention.wv.weight`,
      wo: `${p}.attention.wo.weight`,
      ffnNorm: `${p}.ffn_norm.weight`,
    };
    if (config.numExperts === 0)
      return { ...base, dense: { w1: `${p}.feed_forward.w1.weight`, w2: `${p}.feed_forward.w2.weight`, w3: `${p}.feed_forward.w3.weight` } };
    return { ...base, moe: { router: `${p}.feed_forward.gate.weight`, experts: experts(config, (e) => `${p}.feed_forward.experts.${e}`) } };
  },
};

// Every tensor the config requires (lm_head is optional: absent means tied).
export function requiredTensors(c: ModelConfig, naming: TensorNaming): TensorSpec[] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const specs: TensorSpec[] = [
    { name: naming.embed, shape: [c.vocabSize, H], why: `vocab_size=${c.vocabSize}, hidden_size=${H}` },
    { name: naming.finalNorm, shape: [H], why: `hidden_size=${H}` },
  ];
  const attnWhy = `hidden_size=${H}, heads=${c.numHeads}, kv_heads=${c.numKvHeads}, head_dim=${c.headDim}`;
  const ffnWhy = `hidden_size=${H}, intermediate_size=${c.intermediateSize}`;
  for (let i = 0; i < c.numLayers; i++) {
    const n = naming.layer(c, i);
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
