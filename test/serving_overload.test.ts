// Load shedding (issue 11): a node whose queue is full answers 503 with Retry-After at once;
// the gateway tries its other nodes and, when every one is full, answers its client 503
// server_overloaded with Retry-After — never a stall, never another 5xx — and a busy node stays
// in the pool (it is not ejected as a failed one would be).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let key: string;
beforeAll(async () => {
  // One decoding slot and one waiting place per node: a burst overflows at once.
  stack = await startStack({ nodes: 2, nodeArgs: ['--max-sequences', '1', '--max-queue', '1'], gatewayArgs: ['--health-interval-ms', '600000'] });
  key = await stack.createKey('burst');
}, 120_000);
afterAll(async () => stack?.stop());

const ask = (i: number) =>
  fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-session-id': `burst-${i}` },
    body: JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content: 'Tell a long story.' }], max_tokens: 200, temperature: 0 }),
  });

it('sheds a burst with 503 + Retry-After, serves the rest, and keeps every node in the pool', async () => {
  const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => ask(i)));
  const statuses = answers.map((a) => a.status);
  const shed = answers.filter((a) => a.status === 503);
  expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
  expect(shed.length).toBeGreaterThan(0);
  expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4); // 2 nodes × (1 running + 1 queued)
  for (const a of shed) {
    expect(a.headers.get('retry-after')).toBe('1');
    expect(((await a.json()) as { error: { code: string } }).error.code).toBe('server_overloaded');
  }
  await Promise.all(answers.filter((a) => a.status === 200).map((a) => a.json()));
  // Both nodes still serve: busy is not failed.
  const health = (await (await fetch(`${stack.gateway.url}/health`)).json()) as { models: string[] };
  expect(health.models).toContain('sirocco-test');
  const after = await Promise.all([ask(100), ask(101)]);
  expect(after.map((a) => a.status)).toEqual([200, 200]);
});
