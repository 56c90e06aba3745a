// make-tiny: deterministic files, correct safetensors layout, dtypes, shards, overrides and
// clear errors. Values are read back with the independent reference reader.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readModelTensors } from './reference/safetensors_read.ts';
import { bf16Bits, f16Bits } from '../weights-tools/float_encode.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { runMakeTiny } from '../weights-tools/make_tiny_cli.ts';
import { TensorFiller } from '../weights-tools/tensor_fill.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-make-tiny-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const dir = (name: string): string => path.join(tmp, name);

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function readHeader(file: string): { headerLength: number; entries: Record<string, HeaderEntry>; metadata: unknown } {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const { __metadata__: metadata, ...entries } = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  return { headerLength, entries, metadata };
}

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));

/** Runs the CLI in-process, capturing stderr. */
async function cli(...argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await runMakeTiny(argv), stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('float encoders', () => {
  it('encodes f16 with round-to-nearest-even, subnormals and overflow', () => {
    expect(f16Bits(1)).toBe(0x3c00);
    expect(f16Bits(-2)).toBe(0xc000);
    expect(f16Bits(0.1)).toBe(0x2e66);
    expect(f16Bits(-0)).toBe(0x8000);
    expect(f16Bits(65504)).toBe(0x7bff);
    expect(f16Bits(65519.99)).toBe(0x7bff);
    expect(f16Bits(65520)).toBe(0x7c00);
    expect(f16Bits(2 ** -14)).toBe(0x0400);
    expect(f16Bits(2 ** -24)).toBe(0x0001);
    expect(f16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(f16Bits(1.5 * 2 ** -24)).toBe(0x0002); // tie → even (2)
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even mantissa
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16Bits(2 - 2 ** -12)).toBe(0x4000); // rounds up into the next binade
    expect(f16Bits(NaN)).toBe(0x7e00);
  });

  it('encodes bf16 as the rounded high half of f32', () => {
    expect(bf16Bits(1)).toBe(0x3f80);
    expect(bf16Bits(-2)).toBe(0xc000);
    expect(bf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(bf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(bf16Bits(1 + 2 ** -8 + 2 ** -12)).toBe(0x3f81);
    expect(bf16Bits(Infinity)).toBe(0x7f80);
  });
});

describe('tensor contents', () => {
  it('do not depend on how the writer chunks them', () => {
    const init = { center: 0, std: 1 };
    const whole = new Uint16Array(1001);
    new TensorFiller('t', init, 'f16', 7).fill(whole, 1001);
    const chunked = new Uint16Array(1001);
    const filler = new TensorFiller('t', init, 'f16', 7);
    let at = 0;
    for (const n of [3, 500, 1, 1, 496]) {
      const scratch = new Uint16Array(n + 1);
      filler.fill(scratch, n);
      chunked.set(scratch.subarray(0, n), at);
      at += n;
    }
    expect(at).toBe(1001);
    expect(chunked).toEqual(whole);
  });
});

describe('make-tiny', () => {
  it('writes byte-identical files for the same seed and different weights for another', async () => {
    await makeTiny({ preset: 'mixtral-tiny', seed: 5, out: dir('same-a'), quiet: true });
    await makeTiny({ preset: 'mixtral-tiny', seed: 5, out: dir('same-b'), quiet: true });
    await makeTiny({ preset: 'mixtral-tiny', seed: 6, out: dir('other'), quiet: true });
    const files = fs.readdirSync(dir('same-a')).sort();
    expect(files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    for (const f of files) expect(fs.readFileSync(path.join(dir('same-b'), f)).equals(fs.readFileSync(path.join(dir('same-a'), f)))).toBe(true);
    const a = fs.readFileSync(path.join(dir('same-a'), 'model.safetensors'));
    const other = fs.readFileSync(path.join(dir('other'), 'model.safetensors'));
    expect(other.length).toBe(a.length);
    expect(other.equals(a)).toBe(false);
  });

  it('lays out safetensors as DESIGN §2 says: aligned header, contiguous data, metadata', async () => {
    await makeTiny({ preset: 'mistral-tiny', out: dir('layout'), quiet: true });
    const file = path.join(dir('layout'), 'model.safetensors');
    const { headerLength, entries, metadata } = readHeader(file);
    expect((8 + headerLength) % 8).toBe(0);
    expect(metadata).toEqual({ format: 'pt' });
    let offset = 0;
    for (const entry of Object.values(entries)) {
      expect(entry.data_offsets[0]).toBe(offset);
      offset = entry.data_offsets[1];
    }
    expect(fs.statSync(file).size).toBe(8 + headerLength + offset);
    const names = Object.keys(entries);
    expect(names[0]).toBe('model.embed_tokens.weight');
    expect(names).toContain('lm_head.weight');
    expect(entries['model.layers.1.self_attn.k_proj.weight'].shape).toEqual([4 * 16, 64]);
    expect(entries['model.layers.1.mlp.down_proj.weight'].shape).toEqual([64, 160]);
  });

  it('writes each dtype with the right header names, byte sizes and close values', async () => {
    const widths = { f32: ['F32', 4, 'float32'], f16: ['F16', 2, 'float16'], bf16: ['BF16', 2, 'bfloat16'] } as const;
    const values: Record<string, Map<string, { data: Float64Array }>> = {};
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const out = dir(`dtype-${dtype}`);
      await makeTiny({ preset: 'mixtral-tiny', dtype, out, quiet: true });
      const [name, width, torchDtype] = widths[dtype];
      const { headerLength, entries } = readHeader(path.join(out, 'model.safetensors'));
      let bytes = 0;
      for (const e of Object.values(entries)) {
        expect(e.dtype).toBe(name);
        expect(e.data_offsets[1] - e.data_offsets[0]).toBe(e.shape.reduce((n, d) => n * d, 1) * width);
        bytes += e.data_offsets[1] - e.data_offsets[0];
      }
      expect(fs.statSync(path.join(out, 'model.safetensors')).size).toBe(8 + headerLength + bytes);
      expect(readJson(path.join(out, 'config.json')).torch_dtype).toBe(torchDtype);
      values[dtype] = readModelTensors(out);
    }
    // The same draws encoded three ways: f16/bf16 must decode to the f32 values rounded.
    for (const [dtype, tolerance] of [['f16', 1e-3], ['bf16', 8e-3]] as const) {
      for (const [name, f32] of values.f32) {
        const low = values[dtype].get(name)!.data;
        let maxRef = 0;
        let maxDiff = 0;
        f32.data.forEach((v, i) => {
          maxRef = Math.max(maxRef, Math.abs(v));
          maxDiff = Math.max(maxDiff, Math.abs(v - low[i]));
        });
        expect(maxDiff / maxRef, `${dtype} ${name}`).toBeLessThan(tolerance);
      }
    }
  });

  it('applies overrides to config.json and tensor shapes', async () => {
    const out = dir('overrides');
    const { code } = await cli('--preset', 'mistral-tiny', '--out', out, '--quiet', '--hidden', '32', '--intermediate', '48',
      '--layers', '3', '--heads', '8', '--kv-heads', '4', '--head-dim', '6', '--experts', '3', '--top-k', '1', '--window', 'none',
      '--vocab', '200', '--rope-theta', '500', '--eps', '1e-4', '--tie');
    expect(code).toBe(0);
    expect(readJson(path.join(out, 'config.json'))).toMatchObject({
      architectures: ['MixtralForCausalLM'], model_type: 'mixtral', hidden_size: 32, intermediate_size: 48,
      num_hidden_layers: 3, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 6, num_local_experts: 3,
      num_experts_per_tok: 1, sliding_window: null, vocab_size: 200, rope_theta: 500, rms_norm_eps: 1e-4,
      tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, max_position_embeddings: 32768,
    });
    const { entries } = readHeader(path.join(out, 'model.safetensors'));
    expect(entries['model.embed_tokens.weight'].shape).toEqual([200, 32]);
    expect(entries['model.layers.2.self_attn.q_proj.weight'].shape).toEqual([48, 32]);
    expect(entries['model.layers.2.self_attn.v_proj.weight'].shape).toEqual([24, 32]);
    expect(entries['model.layers.2.self_attn.o_proj.weight'].shape).toEqual([32, 48]);
    expect(entries['model.layers.0.block_sparse_moe.gate.weight'].shape).toEqual([3, 32]);
    expect(entries['model.layers.0.block_sparse_moe.experts.2.w2.weight'].shape).toEqual([32, 48]);
    expect(entries['model.layers.0.mlp.gate_proj.weight']).toBeUndefined();
    expect(entries['lm_head.weight']).toBeUndefined();

    // --experts 1 is dense Mistral again.
    const dense = dir('overrides-dense');
    expect((await cli('--preset', 'mixtral-tiny', '--out', dense, '--quiet', '--experts', '1')).code).toBe(0);
    const config = readJson(path.join(dense, 'config.json'));
    expect(config.architectures).toEqual(['MistralForCausalLM']);
    expect(config.num_local_experts).toBeUndefined();
    expect(readHeader(path.join(dense, 'model.safetensors')).entries['model.layers.0.mlp.up_proj.weight'].shape).toEqual([128, 64]);
  });

  it('writes a tokenizer.json with specials, byte tokens and fillers up to the vocab size', async () => {
    await makeTiny({ preset: 'mistral-tiny', out: dir('tok'), vocab: 300, quiet: true });
    const tok = readJson(path.join(dir('tok'), 'tokenizer.json')) as { model: { type: string; byte_fallback: boolean; vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
    expect(tok.model.type).toBe('BPE');
    expect(tok.model.byte_fallback).toBe(true);
    const ids = Object.values(tok.model.vocab).sort((a, b) => a - b);
    expect(ids).toEqual([...Array(300).keys()]);
    expect(tok.model.vocab['<unk>']).toBe(0);
    expect(tok.model.vocab['<s>']).toBe(1);
    expect(tok.model.vocab['</s>']).toBe(2);
    expect(tok.model.vocab['<0x00>']).toBe(3);
    expect(tok.model.vocab['<0xFF>']).toBe(258);
    expect(tok.added_tokens.map((t) => [t.id, t.content])).toEqual([[0, '<unk>'], [1, '<s>'], [2, '</s>']]);
    expect(readJson(path.join(dir('tok'), 'tokenizer_config.json'))).toMatchObject({ bos_token: '<s>', eos_token: '</s>' });

    await makeTiny({ preset: 'mistral-tiny', out: dir('tok-small'), vocab: 100, quiet: true });
    const small = readJson(path.join(dir('tok-small'), 'tokenizer.json')) as { model: { vocab: Record<string, number> } };
    expect(Object.keys(small.model.vocab)).toHaveLength(100);
    expect(small.model.vocab['<0x60>']).toBe(99);
  });

  it('shards by layer with an index covering every tensor and the same values', async () => {
    await makeTiny({ preset: 'mixtral-tiny', seed: 3, dtype: 'bf16', out: dir('single'), quiet: true });
    const sharded = dir('sharded');
    expect((await cli('--preset', 'mixtral-tiny', '--seed', '3', '--dtype', 'bf16', '--shards', '3', '--out', sharded, '--quiet')).code).toBe(0);
    expect(fs.existsSync(path.join(sharded, 'model.safetensors'))).toBe(false);
    const index = readJson(path.join(sharded, 'model.safetensors.index.json')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    const single = readHeader(path.join(dir('single'), 'model.safetensors')).entries;
    expect(Object.keys(index.weight_map).sort()).toEqual(Object.keys(single).sort());
    const shardFiles = [1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`);
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shardFiles));
    let totalSize = 0;
    for (const file of shardFiles) {
      for (const [name, e] of Object.entries(readHeader(path.join(sharded, file)).entries)) {
        expect(index.weight_map[name]).toBe(file);
        totalSize += e.data_offsets[1] - e.data_offsets[0];
      }
    }
    expect(index.metadata.total_size).toBe(totalSize);
    // A layer never straddles two shards.
    const layerFiles = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(index.weight_map)) {
      const layer = /^model\.layers\.(\d+)\./.exec(name)?.[1] ?? name;
      layerFiles.set(layer, (layerFiles.get(layer) ?? new Set()).add(file));
    }
    for (const files of layerFiles.values()) expect(files.size).toBe(1);

    const a = readModelTensors(dir('single'));
    const b = readModelTensors(sharded);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, t] of a) expect(b.get(name), name).toEqual(t);

    // Regenerating unsharded into the same directory removes the stale shards and index.
    await makeTiny({ preset: 'mixtral-tiny', out: sharded, quiet: true });
    expect(fs.readdirSync(sharded).filter((f) => f.startsWith('model'))).toEqual(['model.safetensors']);
  });

  it('rejects bad options with exit code 1 and a message naming the problem', async () => {
    const out = dir('bad');
    const cases: [string[], RegExp][] = [
      [['--preset', 'mistral-tiny', '--heads', '4', '--kv-heads', '3'], /--kv-heads: .*multiple/],
      [['--preset', 'gpt-tiny'], /--preset/],
      [['--preset', 'mistral-tiny', '--dtype', 'f8'], /--dtype/],
      [['--preset', 'mistral-tiny', '--top-k', '3'], /--top-k/],
      [['--preset', 'mixtral-tiny', '--top-k', '5'], /--top-k: .*exceed/],
      [['--preset', 'mistral-tiny', '--window', 'wide'], /--window: .*number or "none"/],
      [['--preset', 'mistral-tiny', '--layers', '0'], /--layers/],
      [['--preset', 'mistral-tiny', '--layers', '2.5'], /--layers/],
      [['--preset', 'mistral-tiny', '--shards', '5'], /--shards/],
      [['--preset', 'mistral-tiny', '--tie', '--no-tie'], /--tie/],
      [['--preset', 'mistral-tiny', '--colour', 'blue'], /colour/],
    ];
    for (const [argv, message] of cases) {
      const { code, stderr } = await cli(...argv, '--out', out);
      expect(code, argv.join(' ')).toBe(1);
      expect(stderr, argv.join(' ')).toMatch(message);
    }
    const missingOut = await cli('--preset', 'mistral-tiny');
    expect(missingOut.code).toBe(1);
    expect(missingOut.stderr).toMatch(/--out/);
    expect(fs.existsSync(out)).toBe(false);
    await expect(makeTiny({ preset: 'mistral-tiny', out, heads: 4, kvHeads: 3 })).rejects.toThrow(/--kv-heads/);
  });

  it('runs as `sirocco make-tiny` from the real CLI', () => {
    const out = dir('real-cli');
    const bin = path.join(repoRoot, 'bin', 'sirocco.js');
    const ok = spawnSync(process.execPath, [bin, 'make-tiny', '--preset', 'mistral-tiny', '--seed', '9', '--dtype', 'f16', '--out', out], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr.trim().split('\n')).toHaveLength(1); // tiny models: one summary line
    expect(readJson(path.join(out, 'config.json')).torch_dtype).toBe('float16');
    const bad = spawnSync(process.execPath, [bin, 'make-tiny', '--preset', 'mistral-tiny', '--out', out, '--dtype', 'f64'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--dtype/);
    expect(execFileSync(process.execPath, [bin, 'make-tiny', '--help'], { encoding: 'utf8' })).toMatch(/--preset/);
  });
});
