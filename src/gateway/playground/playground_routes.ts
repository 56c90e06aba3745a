// What the playground's in-browser mode downloads from the gateway: its worker script (bundled
// on first use), the WASM engine (sirocco.wasm, or sirocco-relaxed.wasm for browsers with
// relaxed SIMD), and the small model of --playground-model (with a key).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { bundleBrowserWorker } from '../../edge/bundle_browser.ts';
import { WASM_MODULES, wasmModuleBytes, type WasmModuleName } from '../../engine/wasm_load.ts';
import type { GatewayDeps } from '../gateway_deps.ts';
import { OpenAIError } from '../openai_error.ts';

const MODEL_FILES = new Set(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);

export function playgroundRoutes(deps: Pick<GatewayDeps, 'playgroundModel'>): Hono {
  const app = new Hono();
  let worker: Promise<string> | null = null;
  app.get('/playground/browser.js', async (c) => {
    worker ??= bundleBrowserWorker().catch((err: Error) => {
      worker = null;
      throw err;
    });
    return c.body(await worker, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });
  app.get('/playground/:module{sirocco[a-z-]*\\.wasm}', async (c) => {
    const name = c.req.param('module') as WasmModuleName;
    if (!WASM_MODULES.includes(name)) throw new OpenAIError(404, `no WASM module ${name}: ${WASM_MODULES.join(', ')}`, 'not_found_error');
    const bytes = await wasmModuleBytes(name).catch(() => {
      throw new OpenAIError(404, `${name} is not built on this gateway: run npm run build:wasm`, 'not_found_error');
    });
    return c.body(bytes, 200, { 'content-type': 'application/wasm' });
  });

  const model = () => {
    if (!deps.playgroundModel) throw new OpenAIError(404, 'this gateway has no model for the browser: start it with --playground-model DIR', 'not_found_error');
    return deps.playgroundModel;
  };
  app.get('/playground/model', (c) => c.json({ id: basename(model()) }));
  app.get('/playground/model/:file', async (c) => {
    const file = c.req.param('file');
    if (!MODEL_FILES.has(file)) throw new OpenAIError(404, `no model file ${file}: ${[...MODEL_FILES].join(', ')}`, 'not_found_error');
    const path = join(model(), file);
    const size = await stat(path).then((s) => s.size, () => null);
    if (size === null) throw new OpenAIError(404, `the browser model has no ${file}`, 'not_found_error');
    return c.body(Readable.toWeb(createReadStream(path)) as ReadableStream, 200, { 'content-length': String(size), 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  });
  return app;
}
