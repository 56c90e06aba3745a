// Writes a Sirocco bench model (one model.safetensors, HF names) as a GGUF file that llama.cpp
// loads as its `llama` architecture, so the two engines run the same weights side by side.
// The weights keep their dtype and bytes (Q8_0 and Q4_0 are llama.cpp's own block layouts);
// what changes:
// - names (HF → GGUF), experts stacked into one 3-D tensor per matrix (ffn_*_exps);
// - q_proj and k_proj rows permuted per head from HF's rotate-half RoPE order (ropeLayout
//   'half') to llama.cpp's interleaved pairs (new row 2i + j of a head = old row j·hd/2 + i),
//   as its converter does;
// - 1-D norms widened to F32 (llama.cpp multiplies by them in f32);
// - a vocabulary from tokenizer.json (llama.cpp refuses a model without one; llama-bench-style
//   runs feed token ids, so only its size matters for speed).
// GGUF v3: magic, version, tensor count, metadata count, metadata, tensor infos (dims
// innermost first), padding to 32, tensor data (each at a multiple of 32).
import { createWriteStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { z } from 'zod';
import { readModelConfig } from '../../src/engine/model_files.ts';
import { readSafetensorsHeader, type Dtype, type SafetensorsTensor } from '../../src/engine/safetensors.ts';

const ALIGN = 32;
const GGML_TYPE: Record<Dtype, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 };
const enum Kv { U32 = 4, I32 = 5, F32 = 6, STRING = 8, ARRAY = 9 }

type Meta = [key: string, type: Kv.U32 | Kv.F32 | Kv.STRING, value: number | string] | [key: string, type: Kv.ARRAY, items: Kv.STRING | Kv.F32 | Kv.I32, values: (string | number)[]];

// One GGUF tensor: its dims (innermost first), dtype, and the pieces of the safetensors file
// it is made of, in order, each optionally transformed.
type Piece = { from: SafetensorsTensor; transform?: (b: Buffer) => Buffer };
type OutTensor = { name: string; dims: number[]; dtype: Dtype; pieces: Piece[]; bytes: number };

class Bytes {
  private parts: Buffer[] = [];
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.parts.push(b); }
  i32(v: number) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.parts.push(b); }
  u64(v: number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); }
  f32(v: number) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.parts.push(b); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.parts.push(b); }
  get length() { return this.parts.reduce((n, b) => n + b.length, 0); }
  buffer() { return Buffer.concat(this.parts); }
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function widenToF32(dtype: Dtype): (b: Buffer) => Buffer {
  return (b) => {
    if (dtype === 'F32') return b;
    const out = Buffer.alloc(b.length * 2);
    for (let i = 0; i < b.length / 2; i++) {
      const h = b.readUInt16LE(2 * i);
      if (dtype === 'BF16') out.writeUInt32LE(h << 16 >>> 0, 4 * i);
      else out.writeFloatLE(f16ToF32(h), 4 * i);
    }
    return out;
  };
}

// Rows of each head from rotate-half order to interleaved pairs; rowBytes whatever the dtype.
function interleaveHeads(headDim: number, rowBytes: number): (b: Buffer) => Buffer {
  return (b) => {
    const out = Buffer.alloc(b.length), half = headDim / 2, rows = b.length / rowBytes;
    for (let h = 0; h < rows / headDim; h++)
      for (let i = 0; i < half; i++)
        for (let j = 0; j < 2; j++) b.copy(out, (h * headDim + 2 * i + j) * rowBytes, (h * headDim + j * half + i) * rowBytes, (h * headDim + j * half + i + 1) * rowBytes);
    return out;
  };
}

const TokenizerJson = z.object({ model: z.object({ vocab: z.record(z.string(), z.number().int()) }), added_tokens: z.array(z.object({ id: z.number().int(), content: z.string() })).default([]) });

async function vocabulary(dir: string, size: number): Promise<Meta[]> {
  const tok = TokenizerJson.parse(JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')));
  const tokens = Array.from({ length: size }, (_, i) => `<unused${i}>`);
  for (const [t, id] of Object.entries(tok.model.vocab)) if (id < size) tokens[id] = t;
  for (const a of tok.added_tokens) if (a.id < size) tokens[a.id] = a.content;
  // 1 normal, 2 unknown, 3 control, 6 byte (llama.cpp's llama_token_type)
  const types = tokens.map((t, i) => (i === 0 ? 2 : i <= 2 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1));
  return [
    ['tokenizer.ggml.model', Kv.STRING, 'llama'],
    ['tokenizer.ggml.tokens', Kv.ARRAY, Kv.STRING, tokens],
    ['tokenizer.ggml.scores', Kv.ARRAY, Kv.F32, tokens.map((_, i) => -i)],
    ['tokenizer.ggml.token_type', Kv.ARRAY, Kv.I32, types],
    ['tokenizer.ggml.unknown_token_id', Kv.U32, 0],
    ['tokenizer.ggml.bos_token_id', Kv.U32, 1],
    ['tokenizer.ggml.eos_token_id', Kv.U32, 2],
  ];
}

export async function writeGguf(dir: string, outPath: string): Promise<void> {
  const c = await readModelConfig(dir);
  const file = join(dir, 'model.safetensors');
  const byName = new Map((await readSafetensorsHeader(file)).map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new Error(`${file}: no tensor ${name}`);
    return t;
  };
  const rowBytes = (t: SafetensorsTensor) => t.bytes / t.shape[0]!;
  const tensors: OutTensor[] = [];
  // bytes: what the pieces write (their own bytes but for the norms widened to f32).
  const add = (name: string, pieces: Piece[], dims: number[], dtype = pieces[0]!.from.dtype, bytes = pieces.reduce((n, p) => n + p.from.bytes, 0)) =>
    tensors.push({ name, dims, dtype, pieces, bytes });
  const matrix = (name: string, t: SafetensorsTensor, transform?: Piece['transform']) => add(name, [{ from: t, transform }], [t.shape[1]!, t.shape[0]!]);
  const norm = (name: string, t: SafetensorsTensor) => add(name, [{ from: t, transform: widenToF32(t.dtype) }], [t.shape[0]!], 'F32', 4 * t.shape[0]!);

  matrix('token_embd.weight', get('model.embed_tokens.weight'));
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    norm(`${b}attn_norm.weight`, get(`${p}input_layernorm.weight`));
    norm(`${b}ffn_norm.weight`, get(`${p}post_attention_layernorm.weight`));
    const q = get(`${p}self_attn.q_proj.weight`), k = get(`${p}self_attn.k_proj.weight`);
    const pairs = (t: SafetensorsTensor) => (c.ropeLayout === 'half' ? interleaveHeads(c.headDim, rowBytes(t)) : undefined);
    matrix(`${b}attn_q.weight`, q, pairs(q));
    matrix(`${b}attn_k.weight`, k, pairs(k));
    matrix(`${b}attn_v.weight`, get(`${p}self_attn.v_proj.weight`));
    matrix(`${b}attn_output.weight`, get(`${p}self_attn.o_proj.weight`));
    if (c.numExperts > 0) {
      matrix(`${b}ffn_gate_inp.weight`, get(`${p}block_sparse_moe.gate.weight`));
      for (const [w, name] of [['w1', 'ffn_gate_exps'], ['w3', 'ffn_up_exps'], ['w2', 'ffn_down_exps']] as const) {
        const experts = Array.from({ length: c.numExperts }, (_, e) => get(`${p}block_sparse_moe.experts.${e}.${w}.weight`));
        add(`${b}${name}.weight`, experts.map((from) => ({ from })), [experts[0]!.shape[1]!, experts[0]!.shape[0]!, c.numExperts]);
      }
    } else {
      matrix(`${b}ffn_gate.weight`, get(`${p}mlp.gate_proj.weight`));
      matrix(`${b}ffn_up.weight`, get(`${p}mlp.up_proj.weight`));
      matrix(`${b}ffn_down.weight`, get(`${p}mlp.down_proj.weight`));
    }
  }
  norm('output_norm.weight', get('model.norm.weight'));
  matrix('output.weight', get(c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'));

  const meta: Meta[] = [
    ['general.architecture', Kv.STRING, 'llama'],
    ['general.name', Kv.STRING, dir],
    ['general.alignment', Kv.U32, ALIGN],
    // llama.* integers; rope.freq_base and the norm epsilon are floats.
    ...Object.entries({
      context_length: c.maxPositions, embedding_length: c.hiddenSize, block_count: c.numLayers, feed_forward_length: c.intermediateSize,
      'attention.head_count': c.numHeads, 'attention.head_count_kv': c.numKvHeads, 'attention.key_length': c.headDim,
      'attention.value_length': c.headDim, 'rope.dimension_count': c.headDim, vocab_size: c.vocabSize,
      ...(c.numExperts > 0 ? { expert_count: c.numExperts, expert_used_count: c.topK } : {}),
    }).map(([k, v]): Meta => [`llama.${k}`, Kv.U32, v]),
    ['llama.rope.freq_base', Kv.F32, c.ropeTheta],
    ['llama.attention.layer_norm_rms_epsilon', Kv.F32, c.rmsEps],
    ...(await vocabulary(dir, c.vocabSize)),
  ];

  const head = new Bytes();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(meta.length);
  for (const m of meta) {
    head.str(m[0]);
    head.u32(m[1]);
    if (m[1] === Kv.ARRAY) {
      head.u32(m[2]);
      head.u64(m[3].length);
      for (const v of m[3]) m[2] === Kv.STRING ? head.str(v as string) : m[2] === Kv.F32 ? head.f32(v as number) : head.i32(v as number);
    } else if (m[1] === Kv.STRING) head.str(m[2] as string);
    else if (m[1] === Kv.F32) head.f32(m[2] as number);
    else head.u32(m[2] as number);
  }
  let at = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(GGML_TYPE[t.dtype]);
    head.u64(at);
    offsets.push(at);
    at = Math.ceil((at + t.bytes) / ALIGN) * ALIGN;
  }
  const pad = (n: number) => Buffer.alloc((ALIGN - (n % ALIGN)) % ALIGN);
  const out = createWriteStream(outPath);
  const write = async (b: Buffer) => { if (!out.write(b)) await once(out, 'drain'); };
  await write(head.buffer());
  await write(pad(head.length));
  const src = await open(file, 'r');
  try {
    for (const [i, t] of tensors.entries()) {
      let written = 0;
      for (const p of t.pieces) {
        const b = Buffer.alloc(p.from.bytes);
        await src.read(b, 0, b.length, p.from.offset);
        const o = p.transform ? p.transform(b) : b;
        await write(o);
        written += o.length;
      }
      if (written !== t.bytes) throw new Error(`internal: ${t.name} wrote ${written} bytes, expected ${t.bytes}`);
      await write(pad(offsets[i]! + written));
    }
  } finally {
    await src.close();
  }
  out.end();
  await once(out, 'finish');
}
