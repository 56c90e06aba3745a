// The WASM engine in Node: its module from build/wasm/ (native/wasm/build.mjs) and a model's
// weights read from disk slice by slice — the same path as a cold start from S3, since WASM
// cannot map files.
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ModelFiles } from './model_files.ts';
import { WasmEngine, wasmIsas, type WasmEngineOptions } from './wasm_engine.ts';

const wasmModulePath = () => fileURLToPath(new URL('../../build/wasm/sirocco.wasm', import.meta.url));

let bytes: Promise<Buffer<ArrayBuffer>> | null = null;
let compiled: Promise<WebAssembly.Module> | null = null;

// The module's bytes, read once (the edge builds and the gateway's playground ship them too).
export function wasmModuleBytes(): Promise<Buffer<ArrayBuffer>> {
  const path = wasmModulePath();
  bytes ??= readFile(path).catch((err: NodeJS.ErrnoException) => {
    bytes = null;
    throw new Error(
      err.code === 'ENOENT'
        ? `the WASM engine is not built (${path} is missing): run 'npm run build:wasm' (it says which Debian packages it needs)`
        : `cannot read the WASM engine: ${err.message}`,
    );
  });
  return bytes;
}

export function wasmModule(): Promise<WebAssembly.Module> {
  compiled ??= wasmModuleBytes().then(
    (b) => WebAssembly.compile(b),
    (err: Error) => {
      compiled = null;
      throw err;
    },
  );
  return compiled;
}

export async function availableWasmIsas(): Promise<string[]> {
  return wasmIsas(await wasmModule());
}

export async function loadWasmEngine(model: ModelFiles, options: WasmEngineOptions = {}): Promise<WasmEngine> {
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
