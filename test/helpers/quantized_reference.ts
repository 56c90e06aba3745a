// Float64 forward pass of a quantized model as the engine computes it: the weights are the
// dequantized values (read from an f32 copy by the independent reference reader) and, before
// every quantized matrix, the activations are rounded the way the engine's integer kernels
// round them — blocks of 32, f32 scale d = max|x| / 127, x → round-half-even(x / d) · d (as
// llama.cpp quantizes activations for its Q8_0/Q4_0 dot products). Everything else is exact
// float64, so what remains between this and the engine is float rounding, not quantization.
// Written from DESIGN.md §2 like test/reference/forward64.ts; for tiny models only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyRope, matVec, rmsNorm, silu, softmax } from '../reference/math64.ts';
import { referenceConfigSchema, type ReferenceConfig } from '../reference/reference_config.ts';
import { readModelTensors, type Tensor64 } from '../reference/safetensors_read.ts';

const f32 = Math.fround;

/** x with every block of 32 rounded to int8 steps of its own scale, in f32 as the engine does. */
export function roundActivations(x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(f32(x[i]!)));
    const d = f32(amax / 127);
    const id = d === 0 ? 0 : f32(1 / d);
    for (let i = b; i < b + 32; i++) {
      const v = f32(f32(x[i]!) * id);
      const r = Math.round(v);
      out[i] = (r - v === 0.5 && r % 2 !== 0 ? r - 1 : r) * d; // ties to even
    }
  }
  return out;
}

type Model = { c: ReferenceConfig; t: Map<string, Tensor64> };

/** y = W x, with x rounded first unless W is the (unquantized) MoE router. */
function project(m: Model, name: string, x: Float64Array): Float64Array {
  const w = m.t.get(name);
  if (!w || w.shape.length !== 2) throw new Error(`missing matrix ${name}`);
  const rounded = name.endsWith('.block_sparse_moe.gate.weight') ? x : roundActivations(x);
  return matVec(w.data, w.shape[0]!, w.shape[1]!, rounded);
}

const vec = (m: Model, name: string): Float64Array => m.t.get(name)!.data;

function attention(m: Model, l: number, h: Float64Array[]): Float64Array[] {
  const { c } = m;
  const p = `model.layers.${l}.self_attn`;
  const rope = (v: Float64Array, heads: number, pos: number) => {
    for (let head = 0; head < heads; head++) applyRope(v, head * c.headDim, c.headDim, pos, c.ropeTheta);
    return v;
  };
  const q = h.map((x, pos) => rope(project(m, `${p}.q_proj.weight`, x), c.heads, pos));
  const k = h.map((x, pos) => rope(project(m, `${p}.k_proj.weight`, x), c.kvHeads, pos));
  const v = h.map((x) => project(m, `${p}.v_proj.weight`, x));
  const group = c.heads / c.kvHeads;
  return h.map((_, i) => {
    const out = new Float64Array(c.heads * c.headDim);
    for (let head = 0; head < c.heads; head++) {
      const kv = Math.floor(head / group) * c.headDim;
      const keys: number[] = [];
      for (let j = 0; j <= i; j++) if (c.window === null || j > i - c.window) keys.push(j); // W keys, itself included
      const scores = keys.map((j) => {
        let dot = 0;
        for (let d = 0; d < c.headDim; d++) dot += q[i]![head * c.headDim + d]! * k[j]![kv + d]!;
        return dot / Math.sqrt(c.headDim);
      });
      const probs = softmax(scores);
      keys.forEach((j, n) => {
        for (let d = 0; d < c.headDim; d++) out[head * c.headDim + d] += probs[n]! * v[j]![kv + d]!;
      });
    }
    return project(m, `${p}.o_proj.weight`, out);
  });
}

function mlp(m: Model, gate: string, up: string, down: string, x: Float64Array): Float64Array {
  const g = project(m, gate, x);
  const u = project(m, up, x);
  return project(m, down, g.map((gv, n) => silu(gv) * u[n]!));
}

function feedForward(m: Model, l: number, x: Float64Array): Float64Array {
  const { c } = m;
  if (c.experts < 2) {
    const p = `model.layers.${l}.mlp`;
    return mlp(m, `${p}.gate_proj.weight`, `${p}.up_proj.weight`, `${p}.down_proj.weight`, x);
  }
  const p = `model.layers.${l}.block_sparse_moe`;
  const logits = Array.from(project(m, `${p}.gate.weight`, x));
  const chosen = logits
    .map((logit, expert) => ({ logit, expert }))
    .sort((a, b) => b.logit - a.logit || a.expert - b.expert)
    .slice(0, c.topK);
  const weights = softmax(chosen.map((e) => e.logit));
  const out = new Float64Array(c.hidden);
  chosen.forEach(({ expert }, n) => {
    const e = `${p}.experts.${expert}`;
    const y = mlp(m, `${e}.w1.weight`, `${e}.w3.weight`, `${e}.w2.weight`, x);
    for (let i = 0; i < c.hidden; i++) out[i] += weights[n]! * y[i]!;
  });
  return out;
}

export type QuantizedReference = (tokens: number[]) => Float64Array[];

/** The reference for a directory of dequantized f32 weights: logits after every position. */
export function quantizedReference(dir: string): QuantizedReference {
  const c = referenceConfigSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
  const m: Model = { c, t: readModelTensors(dir) };
  const embed = vec(m, 'model.embed_tokens.weight');
  const head = !c.tie && m.t.has('lm_head.weight') ? 'lm_head.weight' : 'model.embed_tokens.weight';
  return (tokens) => {
    let x = tokens.map((t) => embed.slice(t * c.hidden, (t + 1) * c.hidden));
    for (let l = 0; l < c.layers; l++) {
      const p = `model.layers.${l}`;
      const attended = attention(m, l, x.map((v) => rmsNorm(v, vec(m, `${p}.input_layernorm.weight`), c.eps)));
      x = x.map((v, i) => v.map((e, d) => e + attended[i]![d]!));
      x = x.map((v) => {
        const y = feedForward(m, l, rmsNorm(v, vec(m, `${p}.post_attention_layernorm.weight`), c.eps));
        return v.map((e, d) => e + y[d]!);
      });
    }
    return x.map((v) => project(m, head, rmsNorm(v, vec(m, 'model.norm.weight'), c.eps)));
  };
}
