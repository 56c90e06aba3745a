// Writes a Hugging Face model directory in Mistral's own layout (params.json +
// consolidated.safetensors, Mistral tensor names), undoing HF's q/k row permutation: HF keeps
// RoPE pairs as (x[k], x[k+D/2]) per head, Mistral as (x[2k], x[2k+1]). Tiny models only.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/engine/config.ts';
import { HF_NAMING, MISTRAL_NAMING, type LayerNames } from '../../src/engine/model_tensors.ts';
import { readSafetensorsHeader, DTYPE_BYTES } from '../../src/engine/safetensors.ts';

// HF row j < D/2 is Mistral row 2j; HF row D/2 + j is Mistral row 2j + 1 (within each head).
function interleaveRows(data: Buffer, rows: number, rowBytes: number, headDim: number): Buffer {
  const out = Buffer.alloc(data.length);
  const half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    const head = Math.floor(r / headDim);
    const j = r % headDim;
    const target = head * headDim + (j < half ? 2 * j : 2 * (j - half) + 1);
    data.copy(out, target * rowBytes, r * rowBytes, (r + 1) * rowBytes);
  }
  return out;
}

export async function toMistralNative(hfDir: string, outDir: string): Promise<void> {
  const hfConfig = JSON.parse(readFileSync(join(hfDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const c = parseConfig(hfConfig);
  const file = join(hfDir, 'model.safetensors');
  const bytes = readFileSync(file);
  const tensors = new Map((await readSafetensorsHeader(file)).map((t) => [t.name, t]));
  const renames: [string, string][] = [
    [HF_NAMING.embed, MISTRAL_NAMING.embed],
    [HF_NAMING.finalNorm, MISTRAL_NAMING.finalNorm],
    ...(tensors.has(HF_NAMING.lmHead) ? [[HF_NAMING.lmHead, MISTRAL_NAMING.lmHead] as [string, string]] : []),
  ];
  const permuted = new Set<string>();
  for (let i = 0; i < c.numLayers; i++) {
    const [h, m]: LayerNames[] = [HF_NAMING.layer(c, i), MISTRAL_NAMING.layer(c, i)];
    for (const k of ['attnNorm', 'wq', 'wk', 'wv', 'wo', 'ffnNorm'] as const) renames.push([h[k], m[k]]);
    permuted.add(h.wq).add(h.wk);
    const pairs = h.dense ? [[h.dense, m.dense!]] : h.moe!.experts.map((e, x) => [e, m.moe!.experts[x]!]);
    for (const [a, b] of pairs) for (const k of ['w1', 'w2', 'w3'] as const) renames.push([a![k], b![k]]);
    if (h.moe) renames.push([h.moe.router, m.moe!.router]);
  }
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [from, to] of renames) {
    const t = tensors.get(from)!;
    let data: Buffer = bytes.subarray(t.offset, t.offset + t.bytes);
    if (permuted.has(from)) data = interleaveRows(data, t.shape[0]!, t.shape[1]! * DTYPE_BYTES[t.dtype], c.headDim);
    header[to] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes] };
    chunks.push(data);
    offset += t.bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'consolidated.safetensors'), Buffer.concat([length, json, ...chunks]));
  const params = {
    dim: c.hiddenSize,
    n_layers: c.numLayers,
    head_dim: c.headDim,
    hidden_dim: c.intermediateSize,
    n_heads: c.numHeads,
    n_kv_heads: c.numKvHeads,
    norm_eps: c.rmsEps,
    vocab_size: c.vocabSize,
    rope_theta: c.ropeTheta,
    ...(c.slidingWindow ? { sliding_window: c.slidingWindow } : {}),
    ...(c.numExperts ? { moe: { num_experts: c.numExperts, num_experts_per_tok: c.topK } } : {}),
  };
  writeFileSync(join(outDir, 'params.json'), JSON.stringify(params, null, 2));
}
