// `sirocco node --backend wasm` behind a real gateway (issue 13): the WASM engine serves the
// same internal API as the native node, so the gateway routes to it like to any node, and a
// greedy completion streamed through the official openai client is the native node's.
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ModelInfo } from '../src/protocol/internal_api.ts';
import { NODE_SECRET } from './helpers/servers.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let wasm: Stack;
let native: Stack;
beforeAll(async () => {
  [wasm, native] = await Promise.all([startStack({ nodeArgs: ['--backend', 'wasm'] }), startStack()]);
});
afterAll(async () => {
  await Promise.all([wasm?.stop(), native?.stop()]);
});

async function streamed(stack: Stack): Promise<{ text: string; completionTokens: number }> {
  const client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('tests'), maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: stack.modelId,
    messages: [{ role: 'user', content: 'Tell me about the sirocco wind.' }],
    max_tokens: 24,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let completionTokens = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
  }
  return { text, completionTokens };
}

it('the node reports the WASM engine it runs', async () => {
  const res = await fetch(`${wasm.nodes[0]!.url}/internal/v1/model`, { headers: { 'x-sirocco-node-secret': NODE_SECRET } });
  expect(res.status).toBe(200);
  expect(ModelInfo.parse(await res.json()).engine).toBe('cpu/wasm_simd128');
});

it('streams a greedy chat completion through the gateway: the native node\'s tokens', async () => {
  const [fromWasm, fromNative] = await Promise.all([streamed(wasm), streamed(native)]);
  expect(fromWasm.completionTokens).toBe(24);
  expect(fromWasm.text.length).toBeGreaterThan(0);
  expect(fromWasm).toEqual(fromNative);
});
