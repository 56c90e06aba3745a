// Browser code as one script: the playground's in-browser worker (browser_worker.ts), for the
// gateway to serve, and any other entry (bench/browser_wasm.ts's page).
import { build } from 'esbuild';
import { leaveOut, nodeStubs } from './bundle_plugins.ts';

export async function bundleForBrowser(entry: string, options: { minify: boolean }): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    plugins: [nodeStubs(), leaveOut()],
    // What the shared code reads of Node's process (the log's stderr, the environment).
    banner: { js: 'globalThis.process ??= { env: {}, stderr: { write: (s) => console.error(s) }, stdout: { write: (s) => console.log(s) } };' },
    minify: options.minify,
    logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

export const bundleBrowserWorker = () => bundleForBrowser(new URL('./browser_worker.ts', import.meta.url).pathname, { minify: true });
