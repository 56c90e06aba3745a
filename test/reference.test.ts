// Sanity properties of the float64 reference that a wrong mask, head or RoPE would break,
// checked on generated tiny models.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRope } from './reference/math64.ts';
import { argmaxLowest, loadReferenceModel, referenceLogits, relativeError, type ReferenceModel } from './reference/forward64.ts';
import { makeTiny, type MakeTinyOptions } from '../weights-tools/make_tiny.ts';

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-reference-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let modelCount = 0;
async function model(options: Omit<MakeTinyOptions, 'out' | 'quiet'>): Promise<ReferenceModel> {
  const out = path.join(tmp, `m${modelCount++}`);
  await makeTiny({ ...options, out, quiet: true });
  return loadReferenceModel(out);
}

const sequence = (n: number, from = 10): number[] => Array.from({ length: n }, (_, i) => (from + 37 * i) % 500);

function greedy(m: ReferenceModel, prompt: number[], steps: number): number[] {
  const tokens = [...prompt];
  for (let s = 0; s < steps; s++) tokens.push(argmaxLowest(referenceLogits(m, tokens).at(-1)!));
  return tokens.slice(prompt.length);
}

describe('compare helpers', () => {
  it('relativeError is max|a − ref| / max|ref|; argmaxLowest breaks ties low', () => {
    expect(relativeError([1, 2.5, -4], [1, 2, -4])).toBeCloseTo(0.125);
    expect(relativeError([NaN], [1])).toBeNaN();
    expect(argmaxLowest([0, 3, 1, 3])).toBe(1);
  });
});

describe('float64 reference', () => {
  it('rotates HF rotate_half pairs (x[k], x[k + D/2]) by position · theta^(−2k/D)', () => {
    const v = Float64Array.from([1, 0, 0, 0, 9, 0, 0, 1]); // two heads of D = 4; rotate the second
    applyRope(v, 4, 4, 3, 100); // angles 3 (k = 0) and 3 · 100^(−1/2) = 0.3 (k = 1)
    expect(Array.from(v.subarray(0, 4))).toEqual([1, 0, 0, 0]);
    const expected = [9 * Math.cos(3), -Math.sin(0.3), 9 * Math.sin(3), Math.cos(0.3)];
    v.subarray(4).forEach((x, n) => expect(x).toBeCloseTo(expected[n], 14));
  });

  it('maps query head h to KV head h / (H / KV): equals the same model with K and V heads repeated', async () => {
    const gqa = await model({ preset: 'mistral-tiny' }); // 4 heads, 2 KV heads of 16
    const { heads, kvHeads, headDim, hidden } = gqa.config;
    const repeated = new Map(gqa.tensors);
    for (const [name, t] of gqa.tensors) {
      if (!/\.(k|v)_proj\.weight$/.test(name)) continue;
      // Query head h's own copy of KV head h / (H / KV): heads 0, 1 → KV 0; heads 2, 3 → KV 1.
      const data = new Float64Array(heads * headDim * hidden);
      for (let h = 0; h < heads; h++) {
        const kv = Math.floor(h / (heads / kvHeads));
        data.set(t.data.subarray(kv * headDim * hidden, (kv + 1) * headDim * hidden), h * headDim * hidden);
      }
      repeated.set(name, { shape: [heads * headDim, hidden], data });
    }
    const mha: ReferenceModel = { config: { ...gqa.config, kvHeads: heads }, tensors: repeated };
    const tokens = sequence(9);
    expect(referenceLogits(mha, tokens)).toEqual(referenceLogits(gqa, tokens));
  });

  it('sees W keys, itself included: window = length equals full causal, window = length − 1 does not', async () => {
    const tokens = sequence(12);
    const full = referenceLogits(await model({ preset: 'mistral-tiny', window: null }), tokens);
    const exact = referenceLogits(await model({ preset: 'mistral-tiny', window: 12 }), tokens);
    const short = referenceLogits(await model({ preset: 'mistral-tiny', window: 11 }), tokens);
    for (let i = 0; i < 12; i++) expect(exact[i]).toEqual(full[i]);
    // Positions 0..10 see at most 11 keys: unchanged. Position 11 loses key 0.
    for (let i = 0; i < 11; i++) expect(short[i]).toEqual(full[i]);
    expect(relativeError(short[11], full[11])).toBeGreaterThan(1e-6);
  });

  it('with one layer, position i depends only on tokens i − W + 1 .. i, and only on relative positions', async () => {
    const m = await model({ preset: 'mixtral-tiny', layers: 1, window: 4 });
    const tokens = sequence(10);
    const base = referenceLogits(m, tokens);
    const i = 9;
    const beforeWindow = [...tokens];
    beforeWindow[i - 4] = 77; // position 5: outside the window of position 9
    expect(referenceLogits(m, beforeWindow)[i]).toEqual(base[i]);
    const inWindow = [...tokens];
    inWindow[i - 3] = 77; // position 6: the oldest key position 9 sees
    expect(relativeError(referenceLogits(m, inWindow)[i], base[i])).toBeGreaterThan(1e-6);
    // Prepending tokens shifts every position; RoPE scores depend on i − j only.
    const shifted = referenceLogits(m, [1, 2, 3, ...tokens]);
    expect(relativeError(shifted[i + 3], base[i])).toBeLessThan(1e-9);
  });

  it('uses embed_tokens as lm_head when embeddings are tied', async () => {
    const tied = await model({ preset: 'mistral-tiny', tie: true });
    expect(tied.config.tie).toBe(true);
    expect(tied.tensors.has('lm_head.weight')).toBe(false);
    const tokens = sequence(5);
    const logits = referenceLogits(tied, tokens);
    const embed = tied.tensors.get('model.embed_tokens.weight')!;
    const withHead = (data: Float64Array): ReferenceModel => ({
      config: { ...tied.config, tie: false },
      tensors: new Map([...tied.tensors, ['lm_head.weight', { shape: embed.shape, data }]]),
    });
    expect(referenceLogits(withHead(embed.data.slice()), tokens)).toEqual(logits);
    const negated = referenceLogits(withHead(embed.data.map((v) => -v)), tokens);
    expect(relativeError(negated[4], logits[4].map((v) => -v))).toBeLessThan(1e-12);
  });

  it('greedy decoding of the tiny presets does not collapse to one repeated token', async () => {
    for (const preset of ['mistral-tiny', 'mixtral-tiny'] as const) {
      const m = await model({ preset, dtype: 'f32' });
      for (const prompt of [[1], [1, 300, 42, 7], [1, 5, 5, 5, 5, 5]]) {
        const generated = greedy(m, prompt, 16);
        expect(new Set(generated).size, `${preset} ${prompt}: ${generated}`).toBeGreaterThanOrEqual(3);
      }
    }
  });
});
