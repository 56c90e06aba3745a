// The engine against the float64 reference: dense and MoE, windows shorter than the prompt,
// every chunk size from 1 to W+1, mixed batches, GQA ratios, head_dim ≠ hidden/heads, tied
// embeddings, full attention across cache blocks, f16 and bf16 weights. Once per CPU kernel
// table this machine runs and K/V dtype (f32, the default f16, and q8_0 against a reference
// that rounds its keys and values the same way), and on the WASM build's SIMD128 table (its
// scalar table is the native scalar one bit for bit: wasm_engine.test.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { availableIsas, KV_DTYPES, type EngineOptions } from '../src/engine/native.ts';
import { expectEngineMatchesReference, prompt, TOLERANCE } from './helpers/check_reference.ts';
import { TempModels, type TinyOptions } from './helpers/models.ts';
import { relativeError } from './reference/compare.ts';
import { presets } from '../weights-tools/presets.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';

const models = new TempModels();
afterAll(() => models.cleanup());

const RUNS: EngineOptions[] = [
  ...availableIsas().map((isa) => ({ backend: 'native' as const, isa })),
  { backend: 'wasm' as const, isa: 'wasm_simd128' },
].flatMap((run) => KV_DTYPES.map((kvDtype) => ({ ...run, kvDtype })));

// The first position attends to itself alone (weight exactly 1), so in a dense model every
// float operation left is a matmul's, which each table does identically (kernels.h). n
// first tokens make one matmul of n rows, which the AVX-512 and AVX2 tables run in prefill
// tiles (widening F16/BF16 panels once for all of them); intermediate 2112 > 2048 makes the
// down projection's rows longer than one block of widened columns (kernels_avx512.cpp,
// kernels_avx2.cpp), and at 128 tokens its packed activations (1.08 MB) pass the 1 MB above
// which the AVX-512 tiles fetch ahead (WIDE_FETCH_ABOVE).
// The logits of steps of n first tokens (one step per n of counts, a fresh sequence per token)
// on kernel table isa: what the bit-for-bit comparisons below compare.
async function firstPositionLogits(dir: string, isa: string, counts: number[]): Promise<number[][][]> {
  const firsts = Array.from({ length: Math.max(...counts) }, (_, i) => [3 + ((5 + 12 * i) % 509)]);
  const engine = await Engine.load(dir, { isa, kvDtype: 'f32' });
  try {
    const steps = [];
    for (const n of counts) {
      const out = await engine.step(firsts.slice(0, n).map((tokens) => ({ sequence: engine.createSequence(), tokens })));
      steps.push(out.map((rows) => Array.from(rows[0]!)));
    }
    return steps;
  } finally {
    await engine.close();
  }
}

describe('kernel tables agree bit for bit', () => {
  it.each(['f32', 'f16', 'bf16'] as const)('%s weights: first-position logits equal on every table', async (dtype) => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 12, dtype, intermediate: 2112 });
    // Steps of n = 3, 7, 13, 16, 24, 40 and 128 first tokens: calls of one token tile, under
    // and over the 5 tokens from which activations are packed on the pool, of one pass over
    // each panel (AVX-512: 13 to 24 tokens), then of 4 and many tiles.
    const logits = (isa: string) => firstPositionLogits(dir, isa, [3, 7, 13, 16, 24, 40, 128]);
    const scalar = await logits('scalar');
    // avx512_amx feeds BF16 weights their activations as two bf16 halves (bf16_amx_avx512.cpp):
    // its own checks below.
    const same = availableIsas().filter((t) => t !== 'scalar' && !(t === 'avx512_amx' && dtype === 'bf16'));
    for (const isa of same) expect(await logits(isa), isa).toEqual(scalar);
    if (dtype !== 'bf16' || !availableIsas().includes('avx512_amx')) return;
    // AMX's tiles (32 tokens, 32 columns a product: here 4 token tiles of 128, 66 column
    // chunks of the down projection): a sequence's logits the same in a step of 3 (activations
    // split on the calling thread) as in the larger ones (in parts, on the pool) up to the
    // 128-token one, and within the f32 weights' tolerance of the scalar table's.
    const amx = await logits('avx512_amx');
    const all = amx.at(-1)!;
    expect(amx, 'AMX sums in an order of its own: not the scalar bits').not.toEqual(scalar);
    amx.forEach((step, s) =>
      step.forEach((row, i) => {
        expect(row).toEqual(all[i]);
        expect(relativeError(row, scalar[s]![i]!)).toBeLessThanOrEqual(TOLERANCE.f32);
      }),
    );
  });
});

// Q8_0 / Q4_0: integer block sums, then one float chain (kernels.h), so every native table gives
// the same bits (avx512_amx runs avx512's kernels on them): steps of 3 to 128 first tokens,
// calls under, at and past the prefill tiles' sizes with every tail (intermediate 2112: a down
// projection of 66 blocks, whose activations AVX-512 quantizes 16 blocks at a time and 2 alone;
// hidden 96: 3 blocks). In a MoE the f32 router sums in the scalar table's order of its own, so
// there the SIMD tables are held to each other: its experts hold 1 to ~70 tokens.
describe('kernel tables agree bit for bit on quantized weights', () => {
  const quantized = async (options: TinyOptions, to: 'q8_0' | 'q4_0') => {
    const out = path.join(models.root, `bitwise-${options.preset}-${to}`);
    await quantizeModel({ source: await models.make(options), to, out, quiet: true });
    return out;
  };
  const counts = [3, 15, 16, 17, 40, 128];
  it.each(['q8_0', 'q4_0'] as const)('%s dense: every table the scalar bits', async (to) => {
    const dir = await quantized({ preset: 'mistral-tiny', seed: 14, hidden: 96, intermediate: 2112 }, to);
    const scalar = await firstPositionLogits(dir, 'scalar', counts);
    for (const isa of availableIsas().filter((t) => t !== 'scalar')) expect(await firstPositionLogits(dir, isa, counts), isa).toEqual(scalar);
  });
  it.each(['q8_0', 'q4_0'] as const)('%s MoE: every SIMD table the same bits', async (to) => {
    const dir = await quantized({ preset: 'mixtral-tiny', seed: 15, hidden: 96, intermediate: 1056 }, to);
    const [first, ...rest] = availableIsas().filter((t) => t !== 'scalar');
    expect(first, 'no SIMD kernel table runs on this CPU').toBeDefined();
    const want = await firstPositionLogits(dir, first!, counts);
    for (const isa of rest) expect(await firstPositionLogits(dir, isa, counts), isa).toEqual(want);
  });
});

describe.each(RUNS)('$backend kernels $isa, K/V $kvDtype', (engineOptions) => {
  // q8_0 K/V quantizes head_dim in blocks of 32: its runs give the tiny presets (head_dim 16
  // and 24) head_dim 32, and leave out the GQA cases of head_dim 12.
  const q8 = engineOptions.kvDtype === 'q8_0';
  const make = (o: TinyOptions) => models.make(q8 && (o.headDim ?? presets[o.preset].headDim) % 32 !== 0 ? { ...o, headDim: 32 } : o);
  const matches = (e: Engine, dir: string, prompts: number[][], o: { steps: number; chunk?: number; tol: number }) =>
    expectEngineMatchesReference(e, dir, prompts, { ...o, kvDtype: engineOptions.kvDtype });

  async function withEngine<T>(dir: string, fn: (e: Engine) => Promise<T>): Promise<T> {
    const engine = await Engine.load(dir, engineOptions);
    try {
      return await fn(engine);
    } finally {
      await engine.close();
    }
  }

  // Unequal prompts, so chunked steps mix prefill and decode at different positions.
  const batchPrompts = (window: number, vocab: number) => [prompt(3 * window, 11, vocab), prompt(window + 2, 12, vocab), prompt(1, 13, vocab)];

  describe.each([
    { preset: 'mistral-tiny', window: 8 },
    { preset: 'mixtral-tiny', window: 12 },
  ] as const)('$preset (window $window): prompts 3× the window', ({ preset, window }) => {
    let dir: string;
    it('generates the model', async () => {
      dir = await make({ preset, seed: 7, dtype: 'f32' });
    });

    it('matches the reference with the whole prompt in one step', async () => {
      await withEngine(dir, (e) => matches(e, dir, batchPrompts(window, 512), { steps: 6, tol: TOLERANCE.f32 }));
    });

    it('matches the reference for every chunk size from 1 to W+1', async () => {
      await withEngine(dir, async (e) => {
        for (let chunk = 1; chunk <= window + 1; chunk++)
          await matches(e, dir, batchPrompts(window, 512), { steps: 4, chunk, tol: TOLERANCE.f32 });
      });
    });
  });

  // head_dim 12 ≠ hidden/heads; 128 and 64 are the widths the attention kernels take as a
  // template argument (kernels_isa.h: head_dim), Mistral's and the minis'. Query heads a KV
  // head: 1–8 and 16 have kernels of their own; 6 (Codestral, Mistral Small 22B: 48 over 8),
  // 12 (Mistral Large 2: 96 over 8) and 3 go through the kernels' one-head-at-a-time path.
  describe('GQA ratios 1, 2, 3, 4, 6, 8, 12, 16; head_dim 12, 64 and 128', () => {
    it.each([
      ...[8, 4, 2, 1].map((kvHeads) => ({ heads: 8, kvHeads, headDim: 12 })),
      ...[8, 4, 2, 1].map((kvHeads) => ({ heads: 8, kvHeads, headDim: 128 })),
      { heads: 8, kvHeads: 2, headDim: 64 },
      { heads: 16, kvHeads: 1, headDim: 128 },
      { heads: 12, kvHeads: 2, headDim: 128 },
      { heads: 12, kvHeads: 1, headDim: 64 },
      { heads: 6, kvHeads: 2, headDim: 12 },
    ].filter(({ headDim }) => !q8 || headDim % 32 === 0))('$heads query heads over $kvHeads kv heads of $headDim', async ({ heads, kvHeads, headDim }) => {
      const dir = await make({ preset: 'mistral-tiny', seed: 3, heads, kvHeads, headDim, window: 6 });
      await withEngine(dir, (e) =>
        matches(e, dir, [prompt(20, 5, 512), prompt(7, 6, 512)], { steps: 4, chunk: 5, tol: TOLERANCE.f32 }),
      );
    });
  });

  // Every matmul output is one fma chain along k whatever the tile (native/backend/cpu/
  // kernels.h), and attention visits keys in order from cache or chunk alike: so a prompt's
  // logits do not depend on how it is chunked — 1 token (the decode path), 4 (few-token
  // tiles), 13 or whole (packed prefill tiles; MoE experts see other token counts).
  it.each([
    { preset: 'mistral-tiny', dtype: 'f16' },
    { preset: 'mixtral-tiny', dtype: 'bf16' },
    { preset: 'mistral-tiny', dtype: 'q4_0' },
    { preset: 'mixtral-tiny', dtype: 'q8_0' },
  ] as const)('$preset $dtype: prompt logits are bit-identical for every chunk size', async ({ preset, dtype }) => {
    let dir: string;
    if (dtype === 'q4_0' || dtype === 'q8_0') {
      dir = path.join(models.root, `${preset}-${dtype}-chunks${q8 ? '-hd32' : ''}`);
      if (!fs.existsSync(dir)) await quantizeModel({ source: await make({ preset, seed: 31, window: 8 }), to: dtype, out: dir, quiet: true });
    } else {
      dir = await make({ preset, seed: 31, dtype, window: 8 });
    }
    const tokens = prompt(30, 14, 512);
    const chunked = (chunk: number) =>
      withEngine(dir, async (e) => {
        const sequence = e.createSequence();
        const rows: number[][] = [];
        for (let at = 0; at < tokens.length; at += chunk) {
          const [out] = await e.step([{ sequence, tokens: tokens.slice(at, at + chunk), allLogits: true }]);
          rows.push(...out!.map((r) => Array.from(r)));
        }
        return rows;
      });
    const whole = await chunked(tokens.length);
    expect(whole).toHaveLength(tokens.length);
    for (const chunk of [1, 4, 13]) expect(await chunked(chunk), `chunk ${chunk}`).toEqual(whole);
  });

  describe('full attention (sliding_window null) across K/V blocks', () => {
    it.each([
      { preset: 'mixtral-tiny', chunk: undefined },
      { preset: 'mixtral-tiny', chunk: 7 },
      { preset: 'mistral-tiny', chunk: 16 },
      { preset: 'mistral-tiny', chunk: 17 },
    ] as const)('$preset, chunk $chunk', async ({ preset, chunk }) => {
      const dir = await make({ preset, seed: 21, window: null });
      // 40 tokens + 5 decoded cross the 16-slot block boundary twice.
      await withEngine(dir, (e) =>
        matches(e, dir, [prompt(40, 8, 512), prompt(17, 9, 512)], { steps: 5, chunk, tol: TOLERANCE.f32 }),
      );
    });
  });

  // Attention splits a token's keys into work items of 512 (native/backend/cpu/
  // cpu_attention.cpp) whose partial softmaxes are combined: prompts over two item
  // boundaries, a full cache and a ring whose size is no multiple of the 16-slot block.
  describe('contexts longer than an attention work item', () => {
    it.each([
      { window: null, chunk: 256 },
      { window: 601, chunk: 333 },
    ])('window $window, chunk $chunk', async ({ window, chunk }) => {
      const dir = await make({ preset: 'mistral-tiny', seed: 23, window });
      await withEngine(dir, (e) =>
        matches(e, dir, [prompt(1100, 8, 512), prompt(30, 9, 512)], { steps: 3, chunk, tol: TOLERANCE.f32 }),
      );
    });
  });

  describe('weights', () => {
    it('tied embeddings (no lm_head.weight)', async () => {
      const dir = await make({ preset: 'mistral-tiny', seed: 4, tie: true });
      await withEngine(dir, (e) => matches(e, dir, [prompt(20, 1, 512)], { steps: 4, chunk: 6, tol: TOLERANCE.f32 }));
    });

    it.each(['f16', 'bf16'] as const)('%s weights, dense and MoE', async (dtype) => {
      for (const preset of ['mistral-tiny', 'mixtral-tiny'] as const) {
        const dir = await make({ preset, seed: 5, dtype });
        await withEngine(dir, (e) =>
          matches(e, dir, [prompt(30, 2, 512), prompt(3, 3, 512)], { steps: 4, chunk: 4, tol: TOLERANCE[dtype] }),
        );
      }
    });

    // (WASM maps nothing: its weights always arrive slice by slice.)
    if (engineOptions.backend === 'native')
      it('weights read into memory give the same logits as mapped weights', async () => {
        const dir = await make({ preset: 'mixtral-tiny', seed: 9, dtype: 'f16', shards: 2 });
        const run = async (weightsIn: 'mmap' | 'memory') => {
          const engine = await Engine.load(dir, { ...engineOptions, weightsIn });
          try {
            return Array.from((await engine.step([{ sequence: engine.createSequence(), tokens: prompt(10, 4, 512) }]))[0]![0]!);
          } finally {
            await engine.close();
          }
        };
        expect(await run('memory')).toEqual(await run('mmap'));
      });

    it('a sharded model gives the same logits as the single-file one', async () => {
      const single = await make({ preset: 'mixtral-tiny', seed: 9 });
      const sharded = await make({ preset: 'mixtral-tiny', seed: 9, shards: 3 });
      const run = (dir: string) => withEngine(dir, (e) => e.step([{ sequence: e.createSequence(), tokens: prompt(10, 4, 512) }]));
      const [a, b] = [await run(single), await run(sharded)];
      expect(Array.from(b[0]![0]!)).toEqual(Array.from(a[0]![0]!));
    });
  });
});
