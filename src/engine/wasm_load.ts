// The WASM engine in Node: its module from build/wasm/ (native/wasm/build.mjs) and a model's
// weights read from disk slice by slice — the same path as a cold start from S3, since WASM
// cannot map files.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tensorLocations, type ModelFiles } from './model_files.ts';
import type { NativeSlice } from './native.ts';
import { WasmEngine, wasmIsas, type WasmEngineOptions } from './wasm_engine.ts';

export const wasmModulePath = () => fileURLToPath(new URL('../../build/wasm/sirocco.wasm', import.meta.url));

let compiled: Promise<WebAssembly.Module> | null = null;

export function wasmModule(): Promise<WebAssembly.Module> {
  const path = wasmModulePath();
  compiled ??= readFile(path).then(
    (bytes) => WebAssembly.compile(bytes),
    (err: NodeJS.ErrnoException) => {
      compiled = null;
      throw new Error(
        err.code === 'ENOENT'
          ? `the WASM engine is not built (${path} is missing): run 'npm run build:wasm' (it says which Debian packages it needs)`
          : `cannot read the WASM engine: ${err.message}`,
      );
    },
  );
  return compiled;
}

export async function availableWasmIsas(): Promise<string[]> {
  return wasmIsas(await wasmModule());
}

// The slice's bytes from its file: whole rows of the stored tensor (tp 1 never splits columns).
async function readSlice(file: FileHandle, slice: NativeSlice, tensorCols: number): Promise<Uint8Array> {
  const [r0, r1] = slice.rows;
  if (slice.cols[0] !== 0 || slice.cols[1] !== tensorCols) throw new Error('the WASM engine loads whole rows only');
  const rowBytes = slice.bytes / (r1 - r0);
  const bytes = new Uint8Array(slice.bytes);
  const { bytesRead } = await file.read(bytes, 0, slice.bytes, slice.offset + r0 * rowBytes);
  if (bytesRead !== slice.bytes) throw new Error(`weights file ends inside a tensor at offset ${slice.offset}`);
  return bytes;
}

export async function loadWasmEngine(model: ModelFiles, options: WasmEngineOptions = {}): Promise<WasmEngine> {
  const engine = WasmEngine.create(await wasmModule(), model, options);
  const files = await Promise.all(model.files.map((f) => open(f, 'r')));
  try {
    const cols = new Map(tensorLocations(model).map((t) => [`${t.file}:${t.offset}`, t.shape.at(-1)!]));
    for (const [index, slice] of engine.loadPlan().entries())
      engine.loadSlice(index, await readSlice(files[slice.file]!, slice, cols.get(`${slice.file}:${slice.offset}`)!));
    engine.finishLoad();
    return engine;
  } catch (err) {
    engine.close();
    throw err;
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
}
