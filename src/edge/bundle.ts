// Builds the edge node for workerd: esbuild bundles edge_worker.ts into one ES module beside
// the engine's .wasm, and a workerd config embeds them with the model's files as bindings.
import { execFile } from 'node:child_process';
import { copyFile, link, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { wasmModulePath } from '../engine/wasm_load.ts';
import { isS3Uri } from '../weights/s3_location.ts';

const ENTRY = new URL('./edge_worker.ts', import.meta.url).pathname;

// Node's built-in modules stay imports (workerd provides them, as `node:` modules); those that
// bundled CommonJS code require() get a require() that answers them from those imports, as
// an ES module has no require of its own.
function nodeBuiltins(required: Set<string>): Plugin {
  const names = new Set(builtinModules);
  return {
    name: 'node-builtins',
    setup(b) {
      b.onResolve({ filter: /^[a-z_/]+$|^node:/ }, (args) => {
        const name = args.path.replace(/^node:/, '');
        if (!names.has(name)) return undefined;
        if (args.kind === 'require-call') required.add(name);
        return { path: `node:${name}`, external: true };
      });
    },
  };
}

// Modules an edge node never runs, left out: the built-in Mistral vocabularies for model
// directories without tokenizer.json (the edge node is given tokenizer.json), 0.6 MB of the bundle.
const LEFT_OUT = /\/tokenizer\/mistral_v[13]_tokenizer\.ts$/;
function leaveOut(): Plugin {
  return {
    name: 'leave-out',
    setup(b) {
      b.onLoad({ filter: LEFT_OUT }, (args) => ({ contents: `throw new Error(${JSON.stringify(`${args.path} is not in the edge bundle`)});`, loader: 'js' }));
    },
  };
}

function requireShim(required: Set<string>): string {
  const names = [...required].sort();
  const imports = names.map((n, i) => `import * as __node${i} from 'node:${n}';`).join('\n');
  const table = names.map((n, i) => `${JSON.stringify(n)}: __node${i}`).join(', ');
  return `${imports}\nconst __nodeModules = { ${table} };\n` +
    `const require = (name) => { const m = __nodeModules[name.replace(/^node:/, '')]; if (!m) throw new Error('the edge bundle cannot require ' + name); return m.default ?? m; };\n`;
}

// The playground's in-browser worker (browser_worker.ts) as one script. Node's modules the
// shared code imports, but never calls in a browser, are empty there — but for path joining,
// which model_files.ts does on the names it is given.
const NODE_STUB = 'node-stub';
const PATH_SHIM = `const join = (...p) => p.filter(Boolean).join('/').replace(/\\/+/g, '/');
module.exports = { join, resolve: join, basename: (p) => p.split('/').pop(), dirname: (p) => p.split('/').slice(0, -1).join('/') || '.', relative: (a, b) => b, sep: '/' };`;
function nodeStubs(): Plugin {
  const names = new Set(builtinModules);
  return {
    name: 'node-stubs',
    setup(b) {
      b.onResolve({ filter: /^[a-z_/]+$|^node:/ }, (args) => (names.has(args.path.replace(/^node:/, '')) ? { path: args.path.replace(/^node:/, ''), namespace: NODE_STUB } : undefined));
      b.onLoad({ filter: /.*/, namespace: NODE_STUB }, (args) => ({ contents: args.path === 'path' ? PATH_SHIM : 'module.exports = {};', loader: 'js' }));
    },
  };
}

export async function bundleBrowserWorker(): Promise<string> {
  const result = await build({
    entryPoints: [new URL('./browser_worker.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    plugins: [nodeStubs(), leaveOut()],
    // What the shared code reads of Node's process (the log's stderr, the environment).
    banner: { js: 'globalThis.process ??= { env: {}, stderr: { write: (s) => console.error(s) }, stdout: { write: (s) => console.log(s) } };' },
    minify: true,
    logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

// worker.mjs and sirocco.wasm into outDir; returns their sizes in bytes.
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
  try {
    await copyFile(wasmModulePath(), join(outDir, 'sirocco.wasm'));
  } catch {
    throw new Error(`the WASM engine is not built (${wasmModulePath()}): run 'npm run build:wasm'`);
  }
  return { bundleBytes: (await stat(join(outDir, 'worker.mjs'))).size, wasmBytes: (await stat(join(outDir, 'sirocco.wasm'))).size };
}

// model: a local directory (embedded as bindings) or s3://bucket/prefix (fetched by the worker,
// with the AWS_* settings of this environment).
// The Lambda package (infra/modules/edge_lambda): index.mjs (lambda_handler.ts for Node) and
// sirocco.wasm, zipped with Debian's zip into zipPath. Returns the zip's size in bytes.
export async function packageLambda(zipPath: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'sirocco-lambda-'));
  try {
    await build({
      entryPoints: [new URL('./lambda_handler.ts', import.meta.url).pathname],
      outfile: join(dir, 'index.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Bundled CommonJS code require()s Node's modules; an ES module has no require of its own.
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      plugins: [leaveOut()],
      minify: true,
      logLevel: 'error',
    });
    await copyFile(wasmModulePath(), join(dir, 'sirocco.wasm')).catch(() => {
      throw new Error(`the WASM engine is not built (${wasmModulePath()}): run 'npm run build:wasm'`);
    });
    const out = resolve(zipPath);
    await mkdir(dirname(out), { recursive: true });
    await rm(out, { force: true });
    await promisify(execFile)('zip', ['-q', '-j', '-X', out, join(dir, 'index.mjs'), join(dir, 'sirocco.wasm')]).catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === 'ENOENT' ? 'zip is not installed: apt-get install -y zip' : `zip failed: ${err.message}`);
    });
    return (await stat(out)).size;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export type EdgeConfig = { model: string; modelId: string; address: string; kvCacheMb: number; memoryLimitMb: number };

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
