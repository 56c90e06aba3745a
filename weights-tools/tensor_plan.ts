// The list of tensors of a model shape, in file order, with HF names, (out, in) shapes and
// the distribution each is drawn from. Scales keep activations of order 1 so greedy decoding
// of random models does not collapse to one repeated token.
import type { ModelShape } from './presets.ts';

/** Values drawn uniformly around `center` with standard deviation `std`. */
export interface TensorInit {
  center: number;
  std: number;
}

export interface TensorSpec {
  name: string;
  shape: number[];
  init: TensorInit;
  /** Sharding unit: 0 = embeddings, 1 + i = layer i, layers + 1 = final norm and lm_head. */
  group: number;
}

// Linear layers: std 1/sqrt(in) keeps |y| ≈ |x| for inputs of unit RMS (they follow RMSNorm).
const linear = (inFeatures: number): TensorInit => ({ center: 0, std: 1 / Math.sqrt(inFeatures) });
// Norm weights near 1, uniform in ±0.1 (std of U(−a, a) is a/√3), so they are not all equal.
const norm: TensorInit = { center: 1, std: 0.1 / Math.sqrt(3) };
// Embedding rows of unit RMS: the residual stream starts at order 1.
const embedding: TensorInit = { center: 0, std: 1 };
// lm_head 2.5× a plain linear layer: logits with std ≈ 2.5, peaked enough to be far from flat.
const lmHead = (hidden: number): TensorInit => ({ center: 0, std: 2.5 / Math.sqrt(hidden) });
// Router logits with std ≈ 2 so the chosen experts change from token to token.
const router = (hidden: number): TensorInit => ({ center: 0, std: 2 / Math.sqrt(hidden) });

function layerTensors(s: ModelShape, layer: number): TensorSpec[] {
  const p = `model.layers.${layer}`;
  const group = 1 + layer;
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const t = (name: string, shape: number[], init: TensorInit): TensorSpec => ({ name: `${p}.${name}`, shape, init, group });
  const specs: TensorSpec[] = [
    t('input_layernorm.weight', [s.hidden], norm),
    t('self_attn.q_proj.weight', [q, s.hidden], linear(s.hidden)),
    t('self_attn.k_proj.weight', [kv, s.hidden], linear(s.hidden)),
    t('self_attn.v_proj.weight', [kv, s.hidden], linear(s.hidden)),
    t('self_attn.o_proj.weight', [s.hidden, q], linear(q)),
    t('post_attention_layernorm.weight', [s.hidden], norm),
  ];
  if (s.experts === 0) {
    specs.push(
      t('mlp.gate_proj.weight', [s.intermediate, s.hidden], linear(s.hidden)),
      t('mlp.up_proj.weight', [s.intermediate, s.hidden], linear(s.hidden)),
      t('mlp.down_proj.weight', [s.hidden, s.intermediate], linear(s.intermediate)),
    );
    return specs;
  }
  specs.push(t('block_sparse_moe.gate.weight', [s.experts, s.hidden], router(s.hidden)));
  for (let e = 0; e < s.experts; e++) {
    // Mixtral naming: w1 = gate, w3 = up, w2 = down.
    specs.push(
      t(`block_sparse_moe.experts.${e}.w1.weight`, [s.intermediate, s.hidden], linear(s.hidden)),
      t(`block_sparse_moe.experts.${e}.w2.weight`, [s.hidden, s.intermediate], linear(s.intermediate)),
      t(`block_sparse_moe.experts.${e}.w3.weight`, [s.intermediate, s.hidden], linear(s.hidden)),
    );
  }
  return specs;
}

export function planTensors(s: ModelShape): TensorSpec[] {
  const specs: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden], init: embedding, group: 0 }];
  for (let layer = 0; layer < s.layers; layer++) specs.push(...layerTensors(s, layer));
  const last = s.layers + 1;
  specs.push({ name: 'model.norm.weight', shape: [s.hidden], init: norm, group: last });
  if (!s.tie) specs.push({ name: 'lm_head.weight', shape: [s.vocab, s.hidden], init: lmHead(s.hidden), group: last });
  return specs;
}

export const elementCount = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
