// An edge node's model, from bytes the worker already holds (bindings): config, safetensors
// weights and tokenizer files → the WASM engine, loaded and checked against the isolate's
// memory limit. Portable: no file system, no threads.
import { parseConfig } from '../engine/config.ts';
import { Engine } from '../engine/engine.ts';
import { ModelLoadError } from '../engine/errors.ts';
import { loadModelFiles } from '../engine/model_files.ts';
import { kvBlockBytes, type KvDtype } from '../engine/native.ts';
import { parseSafetensorsHeader } from '../engine/safetensors.ts';
import { WasmEngine } from '../engine/wasm_engine.ts';

export type EdgeModelBytes = {
  config: string; // config.json
  weights: ArrayBuffer; // model.safetensors
};

export type EdgeModelOptions = {
  memoryLimitBytes: number; // the isolate's (Cloudflare Workers: 128 MB)
  kvCacheBytes: number;
  kvDtype?: KvDtype;
  isa?: string; // the kernel table; default: the module's best
};

const MB = 2 ** 20;
const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
// What the worker needs beside the weights and the K/V pool: the JS heap with the tokenizer,
// the engine's activations and code.
const OVERHEAD_BYTES = 48 * MB;

export async function loadEdgeModel(bytes: EdgeModelBytes, module: WebAssembly.Module, options: EdgeModelOptions): Promise<{ engine: Engine; kvMaxBlocks: number }> {
  const config = parseConfig(JSON.parse(bytes.config));
  const weights = new Uint8Array(bytes.weights);
  if (weights.length < 8) throw new ModelLoadError('model.safetensors: shorter than its 8-byte header length');
  const headerLength = Number(new DataView(bytes.weights).getBigUint64(0, true));
  const tensors = parseSafetensorsHeader('model.safetensors', weights.subarray(0, Math.min(weights.length, 8 + headerLength)), weights.length);
  const model = await loadModelFiles('model', { exists: async (p) => p === 'model/model.safetensors', read: async () => tensors, config });

  // The binding's bytes and the engine's copy of them live in the isolate together.
  const blockBytes = kvBlockBytes(config, options.kvDtype);
  const kvMaxBlocks = Math.max(1, Math.floor(options.kvCacheBytes / blockBytes));
  const need = 2 * weights.length + kvMaxBlocks * blockBytes + OVERHEAD_BYTES;
  if (need > options.memoryLimitBytes)
    throw new ModelLoadError(
      `the model needs about ${mb(need)} here (weights ${mb(weights.length)}, twice: the binding and the engine's copy; ` +
        `K/V ${mb(options.kvCacheBytes)}; ${mb(OVERHEAD_BYTES)} for the rest) but the edge isolate has ${mb(options.memoryLimitBytes)}: ` +
        `quantize it (sirocco weights quantize --to q4_0) or serve it from a node`,
    );

  const core = WasmEngine.create(module, model, { isa: options.isa, kvDtype: options.kvDtype, kvMaxBlocks });
  await core.loadAll((_file, start, bytes) => weights.subarray(start, start + bytes));
  return { engine: Engine.wrap(core, config), kvMaxBlocks };
}
