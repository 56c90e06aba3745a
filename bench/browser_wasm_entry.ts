// The page side of browser_wasm.ts: the WASM engine on a model the harness serves, driven
// through globalThis.sirocco from page.evaluate.
import { loadEdgeModel } from '../src/edge/edge_model.ts';
import type { Engine } from '../src/engine/engine.ts';
import { generateGreedy, type GreedyOptions } from '../src/engine/generate.ts';
import type { KvDtype } from '../src/engine/native.ts';
import { hostHasRelaxedDot } from '../src/engine/wasm_relaxed_probe.ts';
import { measureEngine, type TimingOptions } from './engine_timings.ts';

export type LoadRequest = { wasm: string; model: string; isa?: string; kvDtype?: KvDtype };

let engine: Engine | null = null;

const loaded = (): Engine => {
  if (!engine) throw new Error('no engine loaded');
  return engine;
};

const api = {
  hasRelaxedDot: () => hostHasRelaxedDot(),

  async load(r: LoadRequest): Promise<{ isa: string; weightBytesPerShard: number[] }> {
    await engine?.close();
    engine = null;
    const [module, config, weights] = await Promise.all([
      WebAssembly.compileStreaming(fetch(r.wasm)),
      fetch(`${r.model}/config.json`).then((res) => res.text()),
      fetch(`${r.model}/model.safetensors`).then((res) => res.arrayBuffer()),
    ]);
    ({ engine } = await loadEdgeModel({ config, weights }, module, { memoryLimitBytes: 2 ** 32, kvCacheBytes: 256 * 2 ** 20, isa: r.isa, kvDtype: r.kvDtype }));
    const { isa, weightBytesPerShard } = engine.info();
    return { isa, weightBytesPerShard };
  },

  // Logits as plain arrays: page.evaluate returns JSON.
  async greedy(prompts: number[][], options: GreedyOptions) {
    const cases = await generateGreedy(loaded(), prompts, options);
    return cases.map((c) => ({ ...c, stepLogits: c.stepLogits.map((v) => Array.from(v)), promptLogits: c.promptLogits.map((v) => Array.from(v)) }));
  },

  measure: (opts: TimingOptions) => measureEngine(loaded(), opts, () => {}),
};

export type BrowserWasmApi = typeof api;
(globalThis as { sirocco?: BrowserWasmApi }).sirocco = api;
