// The playground's in-browser worker (browser_worker.ts) as one script, for the gateway to serve.
import { build } from 'esbuild';
import { leaveOut, nodeStubs } from './bundle_plugins.ts';

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
