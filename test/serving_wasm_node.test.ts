// `sirocco node --backend wasm` behind a real gateway (issue 13): the WASM engine serves the
// same internal API as the native node, so the gateway routes to it like to any node, and a
// greedy completion streamed through the official openai client is the native node's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ModelInfo } from '../src/protocol/internal_api.ts';
import { NODE_SECRET } from './helpers/servers.ts';
import { startStack, type Stack } from './helpers/stack.ts';
import { streamedChat } from './helpers/streamed_chat.ts';

const PROMPT = 'Tell me about the sirocco wind.';

let wasm: Stack;
let native: Stack;
beforeAll(async () => {
  [wasm, native] = await Promise.all([startStack({ nodeArgs: ['--backend', 'wasm'] }), startStack()]);
});
afterAll(async () => {
  await Promise.all([wasm?.stop(), native?.stop()]);
});

it('the node reports the WASM engine it runs', async () => {
  const res = await fetch(`${wasm.nodes[0]!.url}/internal/v1/model`, { headers: { 'x-sirocco-node-secret': NODE_SECRET } });
  expect(res.status).toBe(200);
  expect(ModelInfo.parse(await res.json()).engine).toBe('cpu/wasm_simd128');
});

it('streams a greedy chat completion through the gateway: the native node\'s tokens', async () => {
  const [fromWasm, fromNative] = await Promise.all([streamedChat(wasm, PROMPT, 24), streamedChat(native, PROMPT, 24)]);
  expect(fromWasm.completionTokens).toBe(24);
  expect(fromWasm.text.length).toBeGreaterThan(0);
  expect(fromWasm).toEqual(fromNative);
});
