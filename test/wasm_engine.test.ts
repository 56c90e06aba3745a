// The engine built to WebAssembly (native/wasm/) against the native one. Its scalar table is
// the same C++ as the native scalar table, so it must give the same bits on whole sequences
// (dense and MoE, every weight dtype); its SIMD128 table runs the float64 reference suite in
// engine_reference.test.ts and the quantized checks in quantization.test.ts.
import { stat, truncate } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, KvCacheExhausted } from '../src/engine/engine.ts';
import { generateGreedy, type GreedyCase } from '../src/engine/generate.ts';
import { KV_BLOCK_SLOTS, nativeAddon, type EngineOptions } from '../src/engine/native.ts';
import { availableWasmIsas } from '../src/engine/wasm_load.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
afterAll(() => models.cleanup());

async function greedy(dir: string, options: EngineOptions, prompts: number[][]): Promise<GreedyCase[]> {
  const engine = await Engine.load(dir, options);
  try {
    return await generateGreedy(engine, prompts, { steps: 5, chunk: 6, promptLogits: true });
  } finally {
    await engine.close();
  }
}

const bits = (cases: GreedyCase[]) => cases.map((c) => ({ ...c, stepLogits: c.stepLogits.map((v) => Array.from(v)), promptLogits: c.promptLogits.map((v) => Array.from(v)) }));

describe('the WASM build', () => {
  it('has the scalar and SIMD128 kernel tables, SIMD128 the default, and the native K/V block size', async () => {
    expect(await availableWasmIsas()).toEqual(['scalar', 'wasm_simd128']);
    const dir = await models.make({ preset: 'mistral-tiny', seed: 40 });
    const engine = await Engine.load(dir, { backend: 'wasm' });
    try {
      expect(engine.info()).toMatchObject({ backend: 'cpu/wasm_simd128', isa: 'wasm_simd128', tp: 1, threadsPerShard: 1, kvBlockSlots: KV_BLOCK_SLOTS });
      expect(nativeAddon().kvBlockSlots).toBe(KV_BLOCK_SLOTS);
    } finally {
      await engine.close();
    }
  });

  describe.each(['mistral-tiny', 'mixtral-tiny'] as const)('%s: its scalar table gives the native scalar logits bit for bit', (preset) => {
    it.each(['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const)('%s weights, whole sequences in a mixed batch', async (dtype) => {
      let dir: string;
      if (dtype === 'q8_0' || dtype === 'q4_0') {
        dir = path.join(models.root, `${preset}-${dtype}`);
        await quantizeModel({ source: await models.make({ preset, seed: 41, window: 8 }), to: dtype, out: dir, quiet: true });
      } else {
        dir = await models.make({ preset, seed: 41, dtype, window: 8 });
      }
      const prompts = [prompt(25, 1, 512), prompt(3, 2, 512), prompt(12, 3, 512)];
      const native = await greedy(dir, { isa: 'scalar' }, prompts);
      const wasm = await greedy(dir, { backend: 'wasm', isa: 'scalar' }, prompts);
      expect(bits(wasm)).toEqual(bits(native));
    });
  });

  it('runs out of K/V blocks like the native engine: a clear error, and the engine goes on', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 42, window: null });
    const engine = await Engine.load(dir, { backend: 'wasm', kvMaxBlocks: 2 });
    try {
      const a = engine.createSequence();
      await engine.step([{ sequence: a, tokens: prompt(20, 1, 512) }]);
      const b = engine.createSequence();
      await expect(engine.step([{ sequence: b, tokens: prompt(20, 2, 512) }])).rejects.toThrow(KvCacheExhausted);
      engine.freeSequence(a);
      const [out] = await engine.step([{ sequence: b, tokens: prompt(20, 2, 512) }]);
      expect(out![0]).toHaveLength(512);
      expect(engine.sequenceLength(b)).toBe(20);
    } finally {
      await engine.close();
    }
  });

  it('refuses a weight file that does not hold its tensors, naming the tensor', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 43 });
    const file = path.join(dir, 'model.safetensors');
    await truncate(file, (await stat(file)).size - 1000);
    await expect(Engine.load(dir, { backend: 'wasm' })).rejects.toThrow(/truncated: tensor lm_head\.weight ends at byte \d+ but the file has \d+ bytes/);
  });
});
