// Admission before work (issue 11): a key out of its limits is refused before its prompt is
// planned or tokenized, and a long prompt is tokenized off the gateway's event loop, so small
// requests beside it are served while it is still being encoded.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ gatewayArgs: ['--health-interval-ms', '600000'] });
}, 120_000);
afterAll(async () => stack?.stop());

const chat = (key: string, body: object) =>
  fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sirocco-test', max_tokens: 2, temperature: 0, ...body }),
  });

it('refuses a throttled key before looking at its prompt: 429, not the 400 that planning it would give', async () => {
  const key = await stack.createKey('throttled', { rpm: 1 });
  expect((await chat(key, { messages: [{ role: 'user', content: 'Hi' }] })).status).toBe(200);
  // top_logprobs without logprobs is refused while the request is planned: after admission.
  const res = await chat(key, { messages: [{ role: 'user', content: 'x'.repeat(300_000) }], top_logprobs: 2 });
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
});

it('serves small requests while a long prompt is still being tokenized', async () => {
  const key = await stack.createKey('mixed');
  // Just under what the length check lets through (4096 tokens × 18 characters, the longest
  // piece): about 36k tokens, a few hundred ms of encoding that used to stall the event loop.
  const words = Array.from({ length: 9_000 }, (_, i) => `word${i % 977}`).join(' ').slice(0, 72_000);
  let bigDoneAt = 0;
  const big = chat(key, { messages: [{ role: 'user', content: words }] }).then(async (r) => {
    bigDoneAt = performance.now();
    return { status: r.status, body: await r.text() };
  });
  await new Promise((r) => setTimeout(r, 100)); // the big one is in the gateway first
  const smallDoneAt: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await chat(key, { messages: [{ role: 'user', content: `Say ${i}.` }] });
    expect(r.status).toBe(200);
    await r.json();
    smallDoneAt.push(performance.now());
  }
  const { status, body } = await big;
  expect([200, 400]).toContain(status); // served, or refused as longer than the context: either way, tokenized
  if (status === 400) expect(body).toContain('context_length_exceeded');
  for (const t of smallDoneAt) expect(t).toBeLessThan(bigDoneAt);
}, 120_000);

it('refuses a completion body longer than any served prompt could be by its size, before parsing it', async () => {
  const key = await stack.createKey('sized');
  // sirocco-default: 4096 tokens × 18 characters at most, 6 bytes a character in JSON, + 256 KiB.
  const limit = 6 * 4096 * 18 + 256 * 1024;
  const over = await chat(key, { messages: [{ role: 'user', content: 'y'.repeat(limit + 10) }] });
  expect(over.status).toBe(413);
  const body = (await over.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('request_too_large');
  expect(body.error.message).toContain(`the limit is ${limit} bytes`);
  const under = await chat(key, { messages: [{ role: 'user', content: 'y'.repeat(200_000) }] }); // parsed: too long for the context
  expect(under.status).toBe(400);
  expect(((await under.json()) as { error: { code: string } }).error.code).toBe('context_length_exceeded');
});
