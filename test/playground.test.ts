// The gateway's playground (GET /, issue 13) in a real browser: Debian's chromium driven by
// playwright-core. The page loads without a key, lists the models with the key pasted into it,
// and streams a completion into the page — the text the API gives for the same greedy request —
// with its usage and timings, from the gateway's nodes or computed in the browser itself (the
// WASM engine in a Web Worker on the gateway's --playground-model); screenshots are taken
// (into SIROCCO_SCREENSHOTS when set, to look at them).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { TempModels } from './helpers/models.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const models = new TempModels();
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  // One small model for the node and the browser: their greedy texts must agree.
  const modelDir = join(models.root, 'default-q4_0');
  await quantizeModel({ source: await models.make({ preset: 'sirocco-default', seed: 1, layers: 2 }), to: 'q4_0', out: modelDir, quiet: true });
  stack = await startStack({ modelDir, gatewayArgs: ['--playground-model', modelDir] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  models.cleanup();
});

const PROMPT = 'Describe the sirocco in one line.';

// The page with the key pasted and the models listed, set for a greedy 24-token answer.
async function openPlayground(key: string) {
  const page = await browser.newPage();
  const response = await page.goto(`${stack.gateway.url}/`);
  expect(response?.status()).toBe(200);
  await expect(page.title()).resolves.toBe('Sirocco playground');

  await page.fill('#key', key);
  await page.click('#load-models');
  await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).options.length > 0);
  expect(await page.inputValue('#model')).toBe(stack.modelId);

  await page.fill('#prompt', PROMPT);
  await page.fill('#max-tokens', '24');
  await page.fill('#temperature', '0');
  return page;
}

async function answer(page: Awaited<ReturnType<typeof openPlayground>>, screenshot: string) {
  await page.click('#send');
  await page.waitForFunction(() => /completion tokens/.test(document.getElementById('stats')!.textContent ?? ''), undefined, { timeout: 60_000 });
  expect(await page.textContent('#error')).toBe('');
  const shot = join(process.env.SIROCCO_SCREENSHOTS ?? models.root, screenshot);
  await page.screenshot({ path: shot, fullPage: true });
  expect(statSync(shot).size).toBeGreaterThan(5_000);
  return { output: await page.textContent('#output'), stats: await page.textContent('#stats') };
}

async function expectedAnswer(key: string) {
  const client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  return client.chat.completions.create({ model: stack.modelId, messages: [{ role: 'user', content: PROMPT }], max_tokens: 24, temperature: 0 });
}

it('streams a completion from the nodes into the page with usage and timings, as the API answers it', async () => {
  const key = await stack.createKey('playground');
  const { output, stats } = await answer(await openPlayground(key), 'playground-gateway.png');
  const expected = await expectedAnswer(key);
  expect(output).toBe(expected.choices[0]!.message.content);
  expect(stats).toMatch(new RegExp(`^${expected.usage!.prompt_tokens} prompt tokens · 24 completion tokens · first token \\d+ ms · [\\d.]+ tokens/s · [\\d.]+ s in all$`));
});

it('runs the model in the browser: the same answer, computed by the WASM engine in a Web Worker', async () => {
  const key = await stack.createKey('playground-browser');
  const page = await openPlayground(key);
  const served = await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_generated_tokens_total');
  await page.check('input[name=mode][value=browser]');
  await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).value === 'default-q4_0');
  const { output, stats } = await answer(page, 'playground-browser.png');
  const expected = await expectedAnswer(key);
  expect(output).toBe(expected.choices[0]!.message.content);
  expect(stats).toMatch(new RegExp(`^in this browser \\(default-q4_0, cpu/wasm_relaxed_simd\\) · ${expected.usage!.prompt_tokens} prompt tokens · 24 completion tokens · `));
  // The browser's tokens cost the node nothing: only the API's 24 reached it.
  expect(await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_generated_tokens_total')).toBe(served + 24);
});

it('shows the API error for a wrong key', async () => {
  const page = await browser.newPage();
  await page.goto(`${stack.gateway.url}/`);
  await page.fill('#key', 'sk-wrong');
  await page.click('#load-models');
  await page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '') !== '');
  expect(await page.textContent('#error')).toMatch(/API key/i);
});
