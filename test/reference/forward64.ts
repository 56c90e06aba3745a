// Independent float64 reference of the Mistral/Mixtral forward pass, written from DESIGN §2
// and sharing no code with the engine or weights-tools. Slow and obvious on purpose: every
// call recomputes the whole sequence from scratch, with no KV cache, so there is nothing
// to get subtly wrong about caching. For tiny models only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyRope, matVec, rmsNorm, silu, softmax } from './math64.ts';
import { referenceConfigSchema, type ReferenceConfig } from './reference_config.ts';
import { readModelTensors, type Tensor64 } from './safetensors_read.ts';

export { argmaxLowest, relativeError } from './compare.ts';
export type { ReferenceConfig } from './reference_config.ts';

export interface ReferenceModel {
  config: ReferenceConfig;
  tensors: Map<string, Tensor64>;
}

export function loadReferenceModel(dir: string): ReferenceModel {
  const config = referenceConfigSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
  return { config, tensors: readModelTensors(dir) };
}

/** The tensor `name`, checked to have exactly `shape`. */
function weight(model: ReferenceModel, name: string, shape: number[]): Float64Array {
  const t = model.tensors.get(name);
  if (!t) throw new Error(`missing tensor ${name}`);
  if (t.shape.join(',') !== shape.join(',')) throw new Error(`${name}: shape [${t.shape}], expected [${shape}]`);
  return t.data;
}

const add = (x: Float64Array, y: Float64Array): Float64Array => x.map((v, i) => v + y[i]);

/** Query i sees key j iff j ≤ i and, with window W, i − W < j: W keys, itself included. */
export const isVisible = (i: number, j: number, window: number | null): boolean =>
  j <= i && (window === null || j > i - window);

/**
 * How the reference holds keys and values: exact by default; a K/V cache that stores them
 * rounded (q8_0) passes its rounding of one key or value vector (every head's, RoPE applied).
 */
export type KvRounding = (kv: Float64Array) => Float64Array;

function attention(model: ReferenceModel, layer: number, h: Float64Array[], kvRound: KvRounding): Float64Array[] {
  const c = model.config;
  const p = `model.layers.${layer}.self_attn`;
  const qDim = c.heads * c.headDim;
  const kvDim = c.kvHeads * c.headDim;
  const wq = weight(model, `${p}.q_proj.weight`, [qDim, c.hidden]);
  const wk = weight(model, `${p}.k_proj.weight`, [kvDim, c.hidden]);
  const wv = weight(model, `${p}.v_proj.weight`, [kvDim, c.hidden]);
  const wo = weight(model, `${p}.o_proj.weight`, [c.hidden, qDim]);

  // Position = index in the sequence, starting at 0.
  const q = h.map((x, pos) => {
    const v = matVec(wq, qDim, c.hidden, x);
    for (let head = 0; head < c.heads; head++) applyRope(v, head * c.headDim, c.headDim, pos, c.ropeTheta);
    return v;
  });
  const k = h.map((x, pos) => {
    const v = matVec(wk, kvDim, c.hidden, x);
    for (let head = 0; head < c.kvHeads; head++) applyRope(v, head * c.headDim, c.headDim, pos, c.ropeTheta);
    return kvRound(v);
  });
  const v = h.map((x) => kvRound(matVec(wv, kvDim, c.hidden, x)));

  const groupSize = c.heads / c.kvHeads;
  return h.map((_, i) => {
    const out = new Float64Array(qDim);
    for (let head = 0; head < c.heads; head++) {
      // GQA: heads 0..groupSize−1 share KV head 0, and so on (h / (H/KV), not h % KV).
      const kvHead = Math.floor(head / groupSize);
      const visible: number[] = [];
      for (let j = 0; j <= i; j++) if (isVisible(i, j, c.window)) visible.push(j);
      const scores = visible.map((j) => {
        let dot = 0;
        for (let d = 0; d < c.headDim; d++) dot += q[i][head * c.headDim + d] * k[j][kvHead * c.headDim + d];
        return dot / Math.sqrt(c.headDim);
      });
      const probs = softmax(scores);
      visible.forEach((j, n) => {
        for (let d = 0; d < c.headDim; d++) out[head * c.headDim + d] += probs[n] * v[j][kvHead * c.headDim + d];
      });
    }
    return matVec(wo, c.hidden, qDim, out);
  });
}

/** down(silu(gate x) * up x), with the three matrices given (dense MLP or one expert). */
function gatedMlp(gate: Float64Array, up: Float64Array, down: Float64Array, c: ReferenceConfig, x: Float64Array): Float64Array {
  const g = matVec(gate, c.intermediate, c.hidden, x);
  const u = matVec(up, c.intermediate, c.hidden, x);
  return matVec(down, c.hidden, c.intermediate, g.map((gv, n) => silu(gv) * u[n]));
}

function feedForward(model: ReferenceModel, layer: number, x: Float64Array): Float64Array {
  const c = model.config;
  const inter: number[] = [c.intermediate, c.hidden];
  const downShape: number[] = [c.hidden, c.intermediate];
  if (c.experts < 2) {
    const p = `model.layers.${layer}.mlp`;
    return gatedMlp(weight(model, `${p}.gate_proj.weight`, inter), weight(model, `${p}.up_proj.weight`, inter), weight(model, `${p}.down_proj.weight`, downShape), c, x);
  }
  const p = `model.layers.${layer}.block_sparse_moe`;
  const routerLogits = Array.from(matVec(weight(model, `${p}.gate.weight`, [c.experts, c.hidden]), c.experts, c.hidden, x));
  // Top-k by logit, ties to the lower expert index; softmax over the chosen k only.
  const chosen = routerLogits
    .map((logit, expert) => ({ logit, expert }))
    .sort((a, b) => b.logit - a.logit || a.expert - b.expert)
    .slice(0, c.topK);
  const weights = softmax(chosen.map((e) => e.logit));
  let out = new Float64Array(c.hidden);
  chosen.forEach(({ expert }, n) => {
    const e = `${p}.experts.${expert}`;
    // Mixtral: w1 = gate, w3 = up, w2 = down.
    const y = gatedMlp(weight(model, `${e}.w1.weight`, inter), weight(model, `${e}.w3.weight`, inter), weight(model, `${e}.w2.weight`, downShape), c, x);
    out = out.map((o, i) => o + weights[n] * y[i]);
  });
  return out;
}

/** Logits after every position: element k is the next-token distribution after tokens[0..k]. */
export function referenceLogits(model: ReferenceModel, tokens: number[], kvRound: KvRounding = (kv) => kv): Float64Array[] {
  const c = model.config;
  const embed = weight(model, 'model.embed_tokens.weight', [c.vocab, c.hidden]);
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= c.vocab) throw new Error(`token ${t} outside vocab 0..${c.vocab - 1}`);
  }
  let x: Float64Array[] = tokens.map((t) => embed.slice(t * c.hidden, (t + 1) * c.hidden));
  for (let layer = 0; layer < c.layers; layer++) {
    const p = `model.layers.${layer}`;
    const inputNorm = weight(model, `${p}.input_layernorm.weight`, [c.hidden]);
    const postNorm = weight(model, `${p}.post_attention_layernorm.weight`, [c.hidden]);
    const attended = attention(model, layer, x.map((v) => rmsNorm(v, inputNorm, c.eps)), kvRound);
    x = x.map((v, i) => add(v, attended[i]));
    x = x.map((v) => add(v, feedForward(model, layer, rmsNorm(v, postNorm, c.eps))));
  }
  const finalNorm = weight(model, 'model.norm.weight', [c.hidden]);
  // Tied embeddings (or a missing lm_head) reuse embed_tokens as the output projection.
  const head = !c.tie && model.tensors.has('lm_head.weight') ? weight(model, 'lm_head.weight', [c.vocab, c.hidden]) : embed;
  return x.map((v) => matVec(head, c.vocab, c.hidden, rmsNorm(v, finalNorm, c.eps)));
}
