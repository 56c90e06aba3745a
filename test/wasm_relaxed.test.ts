// The relaxed-SIMD WASM engine (build/wasm/sirocco-relaxed.wasm, its wasm_relaxed_simd table):
// its Q4_0 kernel's integer sums are exact, so it must give wasm_simd128's logits bit for bit —
// here in Node (Node 20 with its flag) and in Chromium, whose V8 has relaxed SIMD on by
// default, against Node's wasm_simd128 (which runs the reference suite). Hosts without relaxed
// SIMD get sirocco.wasm, and asking them for the table is a clear error.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserWasm } from '../bench/browser_wasm.ts';
import { Engine } from '../src/engine/engine.ts';
import { generateGreedy, type GreedyCase } from '../src/engine/generate.ts';
import { hostHasRelaxedDot } from '../src/engine/wasm_relaxed_probe.ts';
import { wasmIsas } from '../src/engine/wasm_exports.ts';
import { hostWasmModule, wasmModule } from '../src/engine/wasm_load.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';
import { enableRelaxedSimd, nodeHasRelaxedSimd } from './helpers/relaxed_simd.ts';

enableRelaxedSimd();
const run = promisify(execFile);
const models = new TempModels();
let browser: BrowserWasm;
beforeAll(async () => {
  browser = await BrowserWasm.launch();
});
afterAll(async () => {
  await browser?.close();
  models.cleanup();
});

const GREEDY = { steps: 5, chunk: 6, promptLogits: true };
const PROMPTS = [prompt(25, 1, 512), prompt(3, 2, 512), prompt(12, 3, 512)]; // one past the window of 8
const bits = (cases: GreedyCase[]) => cases.map((c) => ({ ...c, stepLogits: c.stepLogits.map((v) => Array.from(v)), promptLogits: c.promptLogits.map((v) => Array.from(v)) }));

async function inNode(dir: string, isa: string): Promise<GreedyCase[]> {
  const engine = await Engine.load(dir, { backend: 'wasm', isa, kvDtype: 'f32' });
  try {
    expect(engine.info().isa).toBe(isa);
    return await generateGreedy(engine, PROMPTS, GREEDY);
  } finally {
    await engine.close();
  }
}

describe('the relaxed-SIMD WASM engine', () => {
  it('is the module a host with relaxed SIMD runs, with the table beside scalar and SIMD128', async () => {
    expect(hostHasRelaxedDot()).toBe(true);
    expect(hostWasmModule()).toBe('sirocco-relaxed.wasm');
    expect(wasmIsas(await wasmModule('sirocco-relaxed.wasm'))).toEqual(['scalar', 'wasm_simd128', 'wasm_relaxed_simd']);
    expect(wasmIsas(await wasmModule('sirocco.wasm'))).toEqual(['scalar', 'wasm_simd128']);
    expect(await browser.hasRelaxedDot()).toBe(true);
  });

  it('is refused with the reason where the runtime has no relaxed SIMD', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 50 });
    const logits = run('node', ['bin/sirocco.js', 'logits', '--model', dir, '--prompt', '1,2,3', '--backend', 'wasm', '--isa', 'wasm_relaxed_simd']);
    if (nodeHasRelaxedSimd()) return expect((await logits).stdout).toContain('"cases"');
    await expect(logits).rejects.toMatchObject({ stderr: expect.stringMatching(/cannot run the wasm_relaxed_simd kernels: this runtime \(Node v20\.[\d.]+\) has no relaxed SIMD: Node 22 and later have it/) });
  });

  describe.each(['mistral-tiny', 'mixtral-tiny'] as const)('%s: wasm_simd128 bits, whole sequences in a mixed batch', (preset) => {
    it.each(['q4_0', 'q8_0', 'f16'] as const)('%s weights, in Node and in Chromium', async (dtype) => {
      let dir: string;
      if (dtype === 'f16') {
        dir = await models.make({ preset, seed: 51, dtype, window: 8 });
      } else {
        dir = path.join(models.root, `${preset}-${dtype}`);
        await quantizeModel({ source: await models.make({ preset, seed: 51, window: 8 }), to: dtype, out: dir, quiet: true });
      }
      const simd128 = bits(await inNode(dir, 'wasm_simd128'));
      expect(bits(await inNode(dir, 'wasm_relaxed_simd'))).toEqual(simd128);
      expect(await browser.load(dir, 'sirocco-relaxed.wasm', { kvDtype: 'f32' })).toMatchObject({ isa: 'wasm_relaxed_simd' });
      expect(bits(await browser.greedy(PROMPTS, GREEDY))).toEqual(simd128);
      expect(await browser.load(dir, 'sirocco.wasm', { kvDtype: 'f32' })).toMatchObject({ isa: 'wasm_simd128' });
      expect(bits(await browser.greedy(PROMPTS, GREEDY))).toEqual(simd128);
    });
  });
});
