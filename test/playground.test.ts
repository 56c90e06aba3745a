// The gateway's playground (GET /, issue 13) in a real browser: Debian's chromium driven by
// playwright-core. The page loads without a key, lists the models with the key pasted into it,
// and streams a completion into the page — the text the API gives for the same greedy request —
// with its usage and timings; a screenshot is taken.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

it('streams a completion into the page with usage and timings, as the API answers it', async () => {
  const key = await stack.createKey('playground');
  const prompt = 'Describe the sirocco in one line.';
  const page = await browser.newPage();
  const response = await page.goto(`${stack.gateway.url}/`);
  expect(response?.status()).toBe(200);
  await expect(page.title()).resolves.toBe('Sirocco playground');

  await page.fill('#key', key);
  await page.click('#load-models');
  await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).options.length > 0);
  expect(await page.inputValue('#model')).toBe(stack.modelId);

  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', '24');
  await page.fill('#temperature', '0');
  await page.click('#send');
  await page.waitForFunction(() => /completion tokens/.test(document.getElementById('stats')!.textContent ?? ''), undefined, { timeout: 30_000 });
  const output = await page.textContent('#output');
  const stats = await page.textContent('#stats');
  expect(await page.textContent('#error')).toBe('');

  const client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  const expected = await client.chat.completions.create({ model: stack.modelId, messages: [{ role: 'user', content: prompt }], max_tokens: 24, temperature: 0 });
  expect(output).toBe(expected.choices[0]!.message.content);
  expect(stats).toMatch(new RegExp(`${expected.usage!.prompt_tokens} prompt tokens · 24 completion tokens · first token \\d+ ms · [\\d.]+ tokens/s · [\\d.]+ s in all`));

  const shot = join(stack.models.root, 'playground.png');
  await page.screenshot({ path: shot, fullPage: true });
  expect(statSync(shot).size).toBeGreaterThan(5_000);
});

it('shows the API error for a wrong key', async () => {
  const page = await browser.newPage();
  await page.goto(`${stack.gateway.url}/`);
  await page.fill('#key', 'sk-wrong');
  await page.click('#load-models');
  await page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '') !== '');
  expect(await page.textContent('#error')).toMatch(/API key/i);
});
