// The WASM engine in Debian's Chromium (driven by playwright-core): its V8 has relaxed SIMD,
// which Node 20's has only behind a flag, so the bench measures sirocco-relaxed.wasm there
// and the tests check its logits against Node's. A local server hands the page the engine's
// modules (/wasm/NAME) and model directories (/model/N/FILE); browser_wasm_entry.ts, bundled
// by esbuild, runs them.
import { createReadStream, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bundleForBrowser } from '../src/edge/bundle_browser.ts';
import type { GreedyCase, GreedyOptions } from '../src/engine/generate.ts';
import type { KvDtype } from '../src/engine/native.ts';
import { wasmModuleBytes, type WasmModuleName } from '../src/engine/wasm_load.ts';
import type { BrowserWasmApi } from './browser_wasm_entry.ts';
import type { TimingOptions, Timings } from './engine_timings.ts';

export const CHROMIUM = '/usr/bin/chromium';
const MODEL_FILES = new Set(['config.json', 'model.safetensors']);

export class BrowserWasm {
  private readonly models: string[] = [];

  private constructor(
    private readonly browser: Browser,
    private readonly server: Server,
    private readonly page: Page,
  ) {}

  static async launch(): Promise<BrowserWasm> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    const script = await bundleForBrowser(new URL('./browser_wasm_entry.ts', import.meta.url).pathname, { minify: false });
    let harness: BrowserWasm | undefined; // the server answers model requests once it exists
    const server = createServer(async (req, res) => {
      const url = req.url ?? '/';
      const wasm = /^\/wasm\/(sirocco(-relaxed)?\.wasm)$/.exec(url);
      const model = /^\/model\/(\d+)\/([a-z_.]+)$/.exec(url);
      if (url === '/') {
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><title>sirocco wasm</title><script type="module">${script}</script>`);
      } else if (wasm) {
        res.setHeader('content-type', 'application/wasm');
        res.end(await wasmModuleBytes(wasm[1] as WasmModuleName));
      } else if (model && MODEL_FILES.has(model[2]!) && harness?.models[Number(model[1])]) {
        createReadStream(join(harness.models[Number(model[1])]!, model[2]!)).on('error', () => res.writeHead(404).end()).pipe(res);
      } else {
        res.writeHead(404).end();
      }
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'sirocco' in globalThis);
    return (harness = new BrowserWasm(browser, server, page));
  }

  // (Each evaluate's function runs in the page: it reaches the API through globalThis.)
  hasRelaxedDot(): Promise<boolean> {
    return this.page.evaluate(() => (globalThis as unknown as { sirocco: BrowserWasmApi }).sirocco.hasRelaxedDot());
  }

  // Loads dir's model on `wasm` (replacing the one loaded): the engine's table and weight bytes.
  async load(dir: string, wasm: WasmModuleName, options: { isa?: string; kvDtype?: KvDtype } = {}): Promise<{ isa: string; weightBytesPerShard: number[] }> {
    let n = this.models.indexOf(dir);
    if (n < 0) n = this.models.push(dir) - 1;
    const request = { wasm: `/wasm/${wasm}`, model: `/model/${n}`, ...options };
    return this.page.evaluate((r) => (globalThis as unknown as { sirocco: BrowserWasmApi }).sirocco.load(r), request);
  }

  async greedy(prompts: number[][], options: GreedyOptions): Promise<GreedyCase[]> {
    const cases = await this.page.evaluate(([p, o]) => (globalThis as unknown as { sirocco: BrowserWasmApi }).sirocco.greedy(p, o), [prompts, options] as const);
    return cases.map((c) => ({ ...c, stepLogits: c.stepLogits.map((v) => Float32Array.from(v)), promptLogits: c.promptLogits.map((v) => Float32Array.from(v)) }));
  }

  measure(opts: TimingOptions): Promise<Timings> {
    return this.page.evaluate((o) => (globalThis as unknown as { sirocco: BrowserWasmApi }).sirocco.measure(o), opts);
  }

  async close(): Promise<void> {
    await this.browser.close();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
