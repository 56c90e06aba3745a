// bench:llamacpp's GGUF writer (bench/llamacpp/gguf_from_model.ts), read back by a reader of
// its own here: the header llama.cpp's loader needs, every tensor at an aligned offset inside
// the file, and the bytes moved where llama.cpp reads them — experts stacked in order, q/k rows
// in RoPE pairs, norms widened to f32, quantized blocks untouched.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeGguf } from '../bench/llamacpp/gguf_from_model.ts';
import { readSafetensorsHeader, type SafetensorsTensor } from '../src/engine/safetensors.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';

type GgufTensor = { dims: number[]; type: number; offset: number };
type Gguf = { version: number; meta: Map<string, unknown>; tensors: Map<string, GgufTensor>; dataStart: number; bytes: Buffer };

function readGguf(file: string): Gguf {
  const b = fs.readFileSync(file);
  let at = 0;
  const u32 = () => ((at += 4), b.readUInt32LE(at - 4));
  const u64 = () => ((at += 8), Number(b.readBigUInt64LE(at - 8)));
  const str = () => {
    const n = u64();
    return ((at += n), b.toString('utf8', at - n, at));
  };
  const value = (type: number): unknown => {
    switch (type) {
      case 4: return u32();
      case 5: return ((at += 4), b.readInt32LE(at - 4));
      case 6: return ((at += 4), b.readFloatLE(at - 4));
      case 8: return str();
      case 9: {
        const t = u32(), n = u64();
        return Array.from({ length: n }, () => value(t));
      }
      default: throw new Error(`metadata type ${type} not written by the writer`);
    }
  };
  expect(b.toString('latin1', 0, 4)).toBe('GGUF');
  at = 4;
  const version = u32(), nTensors = u64(), nMeta = u64();
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nMeta; i++) {
    const k = str();
    meta.set(k, value(u32()));
  }
  const tensors = new Map<string, GgufTensor>();
  for (let i = 0; i < nTensors; i++) {
    const name = str(), nd = u32();
    const dims = Array.from({ length: nd }, () => u64());
    tensors.set(name, { dims, type: u32(), offset: u64() });
  }
  return { version, meta, tensors, dataStart: Math.ceil(at / 32) * 32, bytes: b };
}

let tmp = '';
const models: Record<string, { dir: string; gguf: Gguf; source: Map<string, SafetensorsTensor>; file: Buffer }> = {};
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-gguf-'));
  const f16 = path.join(tmp, 'f16'), q8 = path.join(tmp, 'q8_0');
  await makeTiny({ preset: 'mixtral-tiny', dtype: 'f16', seed: 3, out: f16, quiet: true });
  await quantizeModel({ source: f16, to: 'q8_0', out: q8 });
  for (const dir of [f16, q8]) {
    const out = path.join(tmp, `${path.basename(dir)}.gguf`);
    await writeGguf(dir, out);
    const file = path.join(dir, 'model.safetensors');
    models[path.basename(dir)] = { dir, gguf: readGguf(out), source: new Map((await readSafetensorsHeader(file)).map((t) => [t.name, t])), file: fs.readFileSync(file) };
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tensorBytes = (g: Gguf, name: string, n: number) => {
  const t = g.tensors.get(name)!;
  return g.bytes.subarray(g.dataStart + t.offset, g.dataStart + t.offset + n);
};
const sourceBytes = (m: (typeof models)[string], name: string) => {
  const t = m.source.get(name)!;
  return m.file.subarray(t.offset, t.offset + t.bytes);
};

describe('GGUF for llama.cpp from a bench model', () => {
  it('writes the llama architecture header, its shapes and every tensor at an aligned offset in the file', () => {
    const { gguf } = models.q8_0!;
    expect(gguf.version).toBe(3);
    // mixtral-tiny: hidden 64, inter 128, 2 layers, 8 heads (4 KV) of 24, 4 experts top-2, vocab 512
    expect(gguf.meta.get('general.architecture')).toBe('llama');
    expect(Object.fromEntries(['embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count', 'attention.head_count_kv', 'attention.key_length', 'rope.dimension_count', 'expert_count', 'expert_used_count'].map((k) => [k, gguf.meta.get(`llama.${k}`)])))
      .toEqual({ embedding_length: 64, feed_forward_length: 128, block_count: 2, 'attention.head_count': 8, 'attention.head_count_kv': 4, 'attention.key_length': 24, 'rope.dimension_count': 24, expert_count: 4, expert_used_count: 2 });
    expect((gguf.meta.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
    expect(gguf.tensors.size).toBe(1 + 2 * (2 + 4 + 1 + 3) + 2);
    expect(gguf.tensors.get('token_embd.weight')).toMatchObject({ dims: [64, 512], type: 8 });
    expect(gguf.tensors.get('blk.1.ffn_down_exps.weight')).toMatchObject({ dims: [128, 64, 4], type: 8 });
    expect(gguf.tensors.get('blk.0.attn_k.weight')).toMatchObject({ dims: [64, 96], type: 8 });
    expect(gguf.tensors.get('blk.0.attn_norm.weight')).toMatchObject({ dims: [64], type: 0 });
    let end = 0;
    for (const t of [...gguf.tensors.values()].sort((a, b) => a.offset - b.offset)) {
      expect(t.offset % 32).toBe(0);
      expect(t.offset).toBeGreaterThanOrEqual(end);
      end = t.offset;
    }
    expect(gguf.dataStart + end).toBeLessThan(gguf.bytes.length);
  });

  it('stacks the experts in order and keeps quantized blocks byte for byte', () => {
    const m = models.q8_0!;
    const experts = [0, 1, 2, 3].map((e) => sourceBytes(m, `model.layers.1.block_sparse_moe.experts.${e}.w3.weight`));
    const total = experts.reduce((n, b) => n + b.length, 0);
    expect(tensorBytes(m.gguf, 'blk.1.ffn_up_exps.weight', total).equals(Buffer.concat(experts))).toBe(true);
    const v = sourceBytes(m, 'model.layers.0.self_attn.v_proj.weight');
    expect(tensorBytes(m.gguf, 'blk.0.attn_v.weight', v.length).equals(v)).toBe(true);
  });

  it.each(['f16', 'q8_0'])('%s: moves q and k rows to RoPE pairs: row 2i + j of a head is row j·hd/2 + i', (dtype) => {
    const m = models[dtype]!;
    const hd = 24;
    for (const [hf, gg] of [['q_proj', 'attn_q'], ['k_proj', 'attn_k']]) {
      const src = sourceBytes(m, `model.layers.1.self_attn.${hf}.weight`);
      const rows = m.source.get(`model.layers.1.self_attn.${hf}.weight`)!.shape[0]!, rowBytes = src.length / rows;
      const out = tensorBytes(m.gguf, `blk.1.${gg}.weight`, src.length);
      const row = (b: Buffer, r: number) => b.subarray(r * rowBytes, (r + 1) * rowBytes);
      for (let h = 0; h < rows / hd; h++)
        for (let i = 0; i < hd / 2; i++)
          for (let j = 0; j < 2; j++) expect(row(out, h * hd + 2 * i + j).equals(row(src, h * hd + j * (hd / 2) + i))).toBe(true);
    }
  });

  it('widens f16 norms to the same values in f32', () => {
    const m = models.f16!;
    const src = sourceBytes(m, 'model.norm.weight');
    const out = tensorBytes(m.gguf, 'output_norm.weight', src.length * 2);
    for (let i = 0; i < src.length / 2; i++) {
      const h = src.readUInt16LE(2 * i);
      const e = (h >> 10) & 31, mant = h & 1023, sign = h & 0x8000 ? -1 : 1;
      const expected = e === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (e - 15);
      expect(out.readFloatLE(4 * i)).toBe(expected);
    }
  });
});
