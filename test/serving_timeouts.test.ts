// Timeouts everywhere (issue 11): a request running past --request-timeout-ms is stopped (504
// request_timeout, or an in-band error once streaming, billed what was delivered), and a node
// the gateway ejects after a failed health check has its requests cancelled at once, long
// before the node idle timeout would have freed them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUsageFile } from '../src/gateway/ledger/ledger_file.ts';
import { rendezvousOrder } from '../src/gateway/node_pool.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const REQUEST_TIMEOUT_MS = 1000;
let stack: Stack;
let key: string;
// One stack per block: the first with a short request timeout; the second with none to speak
// of and an idle timeout of a minute, so that only ejection (health checks every 200 ms, each
// given 5 s) can end a stopped node's streams within the test.
const withStack = (gatewayArgs: string[]) => {
  beforeAll(async () => {
    stack = await startStack({ nodes: 2, gatewayArgs });
    key = await stack.createKey('timeouts');
  }, 120_000);
  afterAll(async () => {
    for (const n of stack?.nodes ?? []) n.child.kill('SIGCONT');
    await stack?.stop();
  });
};

const ask = (body: object, session: string) =>
  fetch(`${stack.gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-session-id': session },
    body: JSON.stringify({ model: 'sirocco-test', prompt: 'Tell a long story.', max_tokens: 4000, temperature: 1, seed: 3, ...body }),
  });

describe('--request-timeout-ms', () => {
withStack(['--request-timeout-ms', String(REQUEST_TIMEOUT_MS)]);
it('stops a request that runs past it: 504 whole, an in-band error streaming', async () => {
  const t0 = Date.now();
  const whole = await ask({}, 'timeout-whole');
  expect(whole.status).toBe(504);
  expect(((await whole.json()) as { error: { code: string } }).error.code).toBe('request_timeout');
  expect(Date.now() - t0).toBeLessThan(REQUEST_TIMEOUT_MS * 3);
  const stream = await ask({ stream: true }, 'timeout-stream');
  const text = await stream.text();
  expect(text).toContain('event: error');
  expect(text).toContain('request_timeout');
  expect(text).not.toContain('[DONE]');
  await new Promise((r) => setTimeout(r, 300));
  const records = await readUsageFile(stack.dataDir);
  const chunks = (text.match(/"text":/g) ?? []).length; // a token may hold back its text (a split character)
  const streamed = records.find((r) => r.request_id === stream.headers.get('x-request-id'))!;
  expect(streamed).toMatchObject({ status: 'failed', error: expect.stringMatching(/limit of 1 s/) });
  expect(streamed.completion_tokens).toBeGreaterThanOrEqual(chunks); // billed what was delivered
  expect(chunks).toBeGreaterThan(0);
  expect(records.find((r) => r.request_id === whole.headers.get('x-request-id'))).toMatchObject({ status: 'failed' });
});

});

describe('ejection', () => {
withStack(['--node-idle-timeout-ms', '60000']);
it('cancels what a node holds when it fails its health check', async () => {
  const victim = stack.nodes[0]!;
  const urls = stack.nodes.map((n) => n.url);
  let session = '';
  for (let i = 0; session === ''; i++) if (rendezvousOrder(`h:eject-${i}`, urls)[0] === victim.url) session = `eject-${i}`;
  const res = await ask({ stream: true, max_tokens: 200 }, session);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  await reader.read(); // the stream is running on the victim
  victim.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  expect(text).toContain('event: error');
  expect(text).toContain('node_failure');
  expect(Date.now() - stoppedAt).toBeLessThan(15_000); // the health check's 5 s and a few intervals, not the 60 s idle timeout
  victim.child.kill('SIGCONT');
}, 30_000);
});
