// The WASM engine in Node: its module from build/wasm/ (native/wasm/build.mjs) and a model's
// weights read from disk slice by slice — the same path as a cold start from S3, since WASM
// cannot map files.
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ModelFiles } from './model_files.ts';
import { WasmEngine, type WasmEngineOptions } from './wasm_engine.ts';
import { wasmIsas } from './wasm_exports.ts';
import { hostHasRelaxedDot } from './wasm_relaxed_probe.ts';

// sirocco.wasm: SIMD128, for every host. sirocco-relaxed.wasm: relaxed SIMD too, built where
// the compiler has it, for the hosts that run it right (wasm_relaxed_probe.ts).
export type WasmModuleName = 'sirocco.wasm' | 'sirocco-relaxed.wasm';
export const WASM_MODULES: WasmModuleName[] = ['sirocco.wasm', 'sirocco-relaxed.wasm'];
const wasmModulePath = (name: WasmModuleName) => fileURLToPath(new URL(`../../build/wasm/${name}`, import.meta.url));

export const wasmModuleBuilt = (name: WasmModuleName): boolean => existsSync(wasmModulePath(name));

// The module this process runs: the relaxed one where it is built and the host runs it right.
export const hostWasmModule = (): WasmModuleName => (relaxedMissing() === null ? 'sirocco-relaxed.wasm' : 'sirocco.wasm');

const bytes = new Map<WasmModuleName, Promise<Buffer<ArrayBuffer>>>();
const compiled = new Map<WasmModuleName, Promise<WebAssembly.Module>>();

// A module's bytes, read once (the edge builds and the gateway's playground ship them too).
export function wasmModuleBytes(name: WasmModuleName = 'sirocco.wasm'): Promise<Buffer<ArrayBuffer>> {
  const path = wasmModulePath(name);
  let read = bytes.get(name);
  if (!read) {
    read = readFile(path).catch((err: NodeJS.ErrnoException) => {
      bytes.delete(name);
      throw new Error(
        err.code === 'ENOENT'
          ? `the WASM engine is not built (${path} is missing): run 'npm run build:wasm' (it says which Debian packages it needs)`
          : `cannot read the WASM engine: ${err.message}`,
      );
    });
    bytes.set(name, read);
  }
  return read;
}

export function wasmModule(name: WasmModuleName = hostWasmModule()): Promise<WebAssembly.Module> {
  let module = compiled.get(name);
  if (!module) {
    module = wasmModuleBytes(name).then(
      (b) => WebAssembly.compile(b),
      (err: Error) => {
        compiled.delete(name);
        throw err;
      },
    );
    compiled.set(name, module);
  }
  return module;
}

export async function availableWasmIsas(): Promise<string[]> {
  return wasmIsas(await wasmModule());
}

// Why this process cannot run the relaxed table, or null.
function relaxedMissing(): string | null {
  if (!wasmModuleBuilt('sirocco-relaxed.wasm')) return "build/wasm/sirocco-relaxed.wasm is not built: it needs clang 16 or later ('npm run build:wasm' says which packages)";
  if (!hostHasRelaxedDot()) return `this runtime (Node ${process.version}) has no relaxed SIMD: Node 22 and later have it (Node 20 with --experimental-wasm-relaxed-simd)`;
  return null;
}

export async function loadWasmEngine(model: ModelFiles, options: WasmEngineOptions = {}): Promise<WasmEngine> {
  const missing = options.isa === 'wasm_relaxed_simd' ? relaxedMissing() : null;
  if (missing) throw Object.assign(new Error(`cannot run the wasm_relaxed_simd kernels: ${missing}`), { code: 'BAD_INPUT' });
  const engine = WasmEngine.create(await wasmModule(), model, options);
  const files = await Promise.all(model.files.map((f) => open(f, 'r')));
  try {
    await engine.loadAll(async (file, start, bytes) => {
      const out = new Uint8Array(bytes);
      const { bytesRead } = await files[file]!.read(out, 0, bytes, start);
      if (bytesRead !== bytes) throw new Error(`${model.files[file]}: the file ends inside a tensor at byte ${start + bytesRead}`);
      return out;
    });
    return engine;
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
}
