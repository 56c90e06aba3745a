// The edge node for AWS Lambda (infra/modules/edge_lambda): lambda_handler.ts bundled for Node
// beside the engine, zipped.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { WASM_MODULES, wasmModuleBuilt, wasmModuleBytes } from '../engine/wasm_load.ts';
import { leaveOut } from './bundle_plugins.ts';

// The Lambda package (infra/modules/edge_lambda): index.mjs (lambda_handler.ts for Node) and
// the engine's modules that are built (the handler picks one), zipped with Debian's zip into
// zipPath. Returns the zip's size in bytes.
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
    const modules = WASM_MODULES.filter((m, i) => i === 0 || wasmModuleBuilt(m)); // sirocco.wasm, or a clear error
    for (const m of modules) await writeFile(join(dir, m), await wasmModuleBytes(m));
    const out = resolve(zipPath);
    await mkdir(dirname(out), { recursive: true });
    await rm(out, { force: true });
    await promisify(execFile)('zip', ['-q', '-j', '-X', out, join(dir, 'index.mjs'), ...modules.map((m) => join(dir, m))]).catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === 'ENOENT' ? 'zip is not installed: apt-get install -y zip' : `zip failed: ${err.message}`);
    });
    return (await stat(out)).size;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
