// Health checks eject a node that stops answering and bring it back when it returns; the
// gateway's /health says whether any node is ready, /ready answers 503 until one is.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSirocco } from './helpers/servers.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let key: string;
beforeAll(async () => {
  stack = await startStack({ nodes: 1 });
  key = await stack.createKey('health');
}, 120_000);
afterAll(async () => stack?.stop());

const servedModels = async () => ((await (await fetch(`${stack.gateway.url}/health`)).json()) as { models: string[] }).models;
const ask = () =>
  fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });

async function until(check: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('ejects a dead node (503 while none is healthy) and brings it back when it returns', async () => {
  expect((await ask()).status).toBe(200);
  const port = new URL(stack.nodes[0]!.url).port;
  await stack.nodes[0]!.stop('SIGKILL');
  await until(async () => (await servedModels()).length === 0);
  const down = await ask();
  expect(down.status).toBe(503);
  expect(((await down.json()) as { error: { code: string } }).error.code).toBe('no_node_available');
  // /health stays 200 (the gateway itself is fine) and says no node is ready; /ready is 503.
  const health = await fetch(`${stack.gateway.url}/health`);
  expect([health.status, ((await health.json()) as { ready: boolean }).ready]).toEqual([200, false]);
  expect((await fetch(`${stack.gateway.url}/ready`)).status).toBe(503);

  stack.nodes[0] = await startSirocco(['node', '--model', stack.modelDir, '--port', port, '--model-id', 'sirocco-test']);
  await until(async () => (await servedModels()).includes('sirocco-test'));
  expect((await ask()).status).toBe(200);
  expect((await fetch(`${stack.gateway.url}/ready`)).status).toBe(200);
});
