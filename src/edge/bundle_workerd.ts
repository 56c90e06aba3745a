// The edge node for workerd: edge_worker.ts bundled into one ES module beside the engine's
// .wasm, and the workerd config that serves it with the model as bindings or from S3.
import { copyFile, link, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { wasmModuleBuilt, wasmModuleBytes } from '../engine/wasm_load.ts';
import { isS3Uri } from '../weights/s3_location.ts';
import { leaveOut, nodeBuiltins, requireShim } from './bundle_plugins.ts';
import type { KvDtype } from '../engine/native.ts';

const ENTRY = new URL('./edge_worker.ts', import.meta.url).pathname;

// worker.mjs and sirocco.wasm into outDir; returns their sizes in bytes. The engine is
// sirocco-relaxed.wasm where it is built: workerd's V8, as Cloudflare's, has relaxed SIMD (and
// a worker cannot probe for it: it compiles no code at run time).
export async function bundleEdgeNode(outDir: string): Promise<{ bundleBytes: number; wasmBytes: number }> {
  await mkdir(outDir, { recursive: true });
  const required = new Set<string>();
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    // Packages' browser builds (fetch, Web Crypto: what an isolate has) — the browser field of
    // package.json too, which the AWS SDK maps its runtime config through.
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['./sirocco.wasm'],
    plugins: [nodeBuiltins(required), leaveOut()],
    minify: process.env.SIROCCO_EDGE_DEBUG !== '1', // =1: a readable bundle, for the runtime's stack traces
    logLevel: 'error',
  });
  await writeFile(join(outDir, 'worker.mjs'), requireShim(required) + result.outputFiles[0]!.text);
  await writeFile(join(outDir, 'sirocco.wasm'), await wasmModuleBytes(wasmModuleBuilt('sirocco-relaxed.wasm') ? 'sirocco-relaxed.wasm' : 'sirocco.wasm'));
  return { bundleBytes: (await stat(join(outDir, 'worker.mjs'))).size, wasmBytes: (await stat(join(outDir, 'sirocco.wasm'))).size };
}

// model: a local directory (embedded as bindings) or s3://bucket/prefix (fetched by the worker,
// with the AWS_* settings of this environment).
export type EdgeConfig = { model: string; modelId: string; address: string; kvCacheMb: number; kvDtype: KvDtype; memoryLimitMb: number };

const quote = (s: string) => JSON.stringify(s);

// The model's files beside the config (workerd embeds files below the config's folder only):
// hard links where the file system allows, else copies.
async function placeModel(modelDir: string, outDir: string): Promise<string[]> {
  await mkdir(join(outDir, 'model'), { recursive: true });
  const placed: string[] = [];
  for (const f of MODEL_FILES) {
    const from = resolve(modelDir, f), to = join(outDir, 'model', f);
    if (!(await stat(from).then(() => true, () => false))) continue;
    await rm(to, { force: true });
    await link(from, to).catch(() => copyFile(from, to));
    placed.push(f);
  }
  return placed;
}
const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

async function modelBindings(c: EdgeConfig, outDir: string): Promise<string[]> {
  if (isS3Uri(c.model)) {
    const aws = ['AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
    return [`(name = "MODEL_URI", text = ${quote(c.model)})`, ...aws.map((v) => `(name = "${v}", fromEnvironment = "${v}")`)];
  }
  const placed = await placeModel(c.model, outDir);
  for (const f of MODEL_FILES.slice(0, 3))
    if (!placed.includes(f)) throw new Error(`${c.model}: no ${f}: the edge node serves a Hugging Face layout model in one safetensors file`);
  const model = (f: string) => quote(`model/${f}`);
  return [
    `(name = "MODEL_CONFIG", text = embed ${model('config.json')})`,
    `(name = "MODEL_WEIGHTS", data = embed ${model('model.safetensors')})`,
    `(name = "MODEL_TOKENIZER", text = embed ${model('tokenizer.json')})`,
    ...(placed.includes('tokenizer_config.json') ? [`(name = "MODEL_TOKENIZER_CONFIG", text = embed ${model('tokenizer_config.json')})`] : []),
  ];
}

// config.capnp for `workerd serve`: the bundle, the engine and where the model comes from.
export async function writeWorkerdConfig(outDir: string, c: EdgeConfig): Promise<string> {
  const bindings = await modelBindings(c, outDir);
  const text = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  # The worker reaches only its S3 endpoint, which may be on this host or network (MinIO, s3rver).
  services = [ (name = "edge-node", worker = .node), (name = "network", network = (allow = ["public", "private", "local"])) ],
  sockets = [ (name = "http", address = ${quote(c.address)}, http = (), service = "edge-node") ],
);
const node :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.mjs"), (name = "sirocco.wasm", wasm = embed "sirocco.wasm") ],
  bindings = [
    (name = "SIROCCO_NODE_SECRET", fromEnvironment = "SIROCCO_NODE_SECRET"),
    (name = "MODEL_ID", text = ${quote(c.modelId)}),
    ${bindings.join(',\n    ')},
    (name = "KV_CACHE_MB", text = ${quote(String(c.kvCacheMb))}),
    (name = "KV_DTYPE", text = ${quote(c.kvDtype)}),
    (name = "MEMORY_LIMIT_MB", text = ${quote(String(c.memoryLimitMb))}),
  ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "network",
);
`;
  const path = join(outDir, 'config.capnp');
  await writeFile(path, text);
  return path;
}
